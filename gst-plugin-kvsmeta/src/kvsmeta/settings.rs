// SPDX-License-Identifier: MPL-2.0
//! kvsmeta's properties: defaults (shared with gst-inspect), specs and values.

use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use kvs_core::motion::{
    DEFAULT_COOLDOWN, DEFAULT_MIN_AREA_PERCENT, DEFAULT_THRESHOLD, MotionConfig,
};

pub const DEFAULT_MOTION: bool = false;
pub const DEFAULT_MOTION_TAG_NAME: &str = "motion";
pub const DEFAULT_IMAGE_GENERATION_ON_MOTION: bool = false;
pub const DEFAULT_NOTIFICATION_ON_MOTION: bool = false;
const DEFAULT_COOLDOWN_MS: u32 = DEFAULT_COOLDOWN.as_millis() as u32;

pub const PROP_TAGS: &str = "tags";
pub const PROP_MOTION: &str = "motion";
pub const PROP_MOTION_THRESHOLD: &str = "motion-threshold";
pub const PROP_MOTION_MIN_AREA: &str = "motion-min-area";
pub const PROP_MOTION_COOLDOWN: &str = "motion-cooldown";
pub const PROP_MOTION_TAG_NAME: &str = "motion-tag-name";
pub const PROP_IMAGE_GENERATION_ON_MOTION: &str = "image-generation-on-motion";
pub const PROP_NOTIFICATION_ON_MOTION: &str = "notification-on-motion";
pub const PROP_IMAGE_PREFIX: &str = "image-prefix";

#[derive(Debug, Clone)]
pub struct Settings {
    pub tags: Option<gst::Structure>,
    pub motion: bool,
    pub motion_config: MotionConfig,
    pub motion_tag_name: String,
    pub image_generation_on_motion: bool,
    pub notification_on_motion: bool,
    pub image_prefix: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tags: None,
            motion: DEFAULT_MOTION,
            motion_config: MotionConfig::default(),
            motion_tag_name: DEFAULT_MOTION_TAG_NAME.to_owned(),
            image_generation_on_motion: DEFAULT_IMAGE_GENERATION_ON_MOTION,
            notification_on_motion: DEFAULT_NOTIFICATION_ON_MOTION,
            image_prefix: None,
        }
    }
}

pub fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecBoxed::builder::<gst::Structure>(PROP_TAGS)
            .nick("Persistent tags")
            .blurb(
                "Fragment tags sent with every fragment: each field of the structure is a tag \
                 (the structure's name is ignored), e.g. tags=\"t,camera=front,site=lab\". \
                 Names must not start with AWS and have at most 128 bytes, values at most 256; \
                 at most 10 persistent tags. Invalid fields are skipped with a warning.",
            )
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder(PROP_MOTION)
            .nick("Motion detection")
            .blurb(
                "Detect motion on raw video and tag the fragments where it starts and ends \
                 (needs raw video: place kvsmeta before the encoder)",
            )
            .default_value(DEFAULT_MOTION)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder(PROP_MOTION_THRESHOLD)
            .nick("Motion threshold")
            .blurb(
                "Luma difference (0-255 levels) between an area of the picture and the \
                 learned background above which that area counts as changed",
            )
            .minimum(1)
            .maximum(255)
            .default_value(u32::from(DEFAULT_THRESHOLD))
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder(PROP_MOTION_MIN_AREA)
            .nick("Motion minimum area")
            .blurb("Changed share of the picture, in percent, from which a frame counts as motion")
            .minimum(0.0)
            .maximum(100.0)
            .default_value(DEFAULT_MIN_AREA_PERCENT)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder(PROP_MOTION_COOLDOWN)
            .nick("Motion cooldown")
            .blurb(
                "Milliseconds without motion after which motion ends (short pauses do not end it)",
            )
            .default_value(DEFAULT_COOLDOWN_MS)
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder(PROP_MOTION_TAG_NAME)
            .nick("Motion tag name")
            .blurb(
                "Name of the one-shot tag sent when motion starts (value start;area=<percent>) \
                 and ends (value end;duration=<seconds>s)",
            )
            .default_value(Some(DEFAULT_MOTION_TAG_NAME))
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder(PROP_IMAGE_GENERATION_ON_MOTION)
            .nick("Image generation on motion")
            .blurb("Also ask KVS to generate images for the fragment where motion starts")
            .default_value(DEFAULT_IMAGE_GENERATION_ON_MOTION)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder(PROP_NOTIFICATION_ON_MOTION)
            .nick("Notification on motion")
            .blurb("Also ask KVS to send a notification for the fragment where motion starts")
            .default_value(DEFAULT_NOTIFICATION_ON_MOTION)
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder(PROP_IMAGE_PREFIX)
            .nick("Image prefix")
            .blurb(
                "S3 key prefix (1-256 bytes) of the images generated on motion; unset uses the \
                 stream's image-generation configuration",
            )
            .mutable_playing()
            .build(),
    ]
}

impl Settings {
    /// Sets a property; `value` has been type-checked by GObject.
    pub fn set(&mut self, name: &str, value: &glib::Value) {
        match name {
            PROP_TAGS => self.tags = value.get().ok().flatten(),
            PROP_MOTION => self.motion = value.get().unwrap_or(DEFAULT_MOTION),
            PROP_MOTION_THRESHOLD => {
                let v: u32 = value.get().unwrap_or(u32::from(DEFAULT_THRESHOLD));
                self.motion_config.threshold = u8::try_from(v).unwrap_or(u8::MAX);
            }
            PROP_MOTION_MIN_AREA => {
                self.motion_config.min_area_percent =
                    value.get().unwrap_or(DEFAULT_MIN_AREA_PERCENT);
            }
            PROP_MOTION_COOLDOWN => {
                let ms: u32 = value.get().unwrap_or(DEFAULT_COOLDOWN_MS);
                self.motion_config.cooldown = Duration::from_millis(u64::from(ms));
            }
            PROP_MOTION_TAG_NAME => {
                self.motion_tag_name = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| DEFAULT_MOTION_TAG_NAME.to_owned());
            }
            PROP_IMAGE_GENERATION_ON_MOTION => {
                self.image_generation_on_motion = value.get().unwrap_or(false);
            }
            PROP_NOTIFICATION_ON_MOTION => {
                self.notification_on_motion = value.get().unwrap_or(false);
            }
            PROP_IMAGE_PREFIX => {
                self.image_prefix = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .filter(|s| !s.is_empty());
            }
            _ => unimplemented!("kvsmeta has no property {name}"),
        }
    }

    pub fn get(&self, name: &str) -> glib::Value {
        match name {
            PROP_TAGS => self.tags.to_value(),
            PROP_MOTION => self.motion.to_value(),
            PROP_MOTION_THRESHOLD => u32::from(self.motion_config.threshold).to_value(),
            PROP_MOTION_MIN_AREA => self.motion_config.min_area_percent.to_value(),
            PROP_MOTION_COOLDOWN => u32::try_from(self.motion_config.cooldown.as_millis())
                .unwrap_or(u32::MAX)
                .to_value(),
            PROP_MOTION_TAG_NAME => self.motion_tag_name.to_value(),
            PROP_IMAGE_GENERATION_ON_MOTION => self.image_generation_on_motion.to_value(),
            PROP_NOTIFICATION_ON_MOTION => self.notification_on_motion.to_value(),
            PROP_IMAGE_PREFIX => self.image_prefix.to_value(),
            _ => unimplemented!("kvsmeta has no property {name}"),
        }
    }
}
