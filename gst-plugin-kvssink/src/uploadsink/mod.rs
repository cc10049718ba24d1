// SPDX-License-Identifier: MPL-2.0
//! The sink inside `kvssink` that hands the fragmenter's buffers to the uploader as
//! [`Chunk`](crate::chunk::Chunk)s. Not registered as a factory: only `kvssink` builds it.

use gst::glib;
use gst::subclass::prelude::*;

mod imp;

pub use imp::{UploadSetup, UploadStats};

glib::wrapper! {
    pub struct KvsUploadSink(ObjectSubclass<imp::KvsUploadSink>)
        @extends gst_base::BaseSink, gst::Element, gst::Object;
}

impl KvsUploadSink {
    pub fn new(name: &str) -> Self {
        glib::Object::builder().property("name", name).build()
    }

    /// What to start when the first buffer arrives; set before READY→PAUSED.
    pub fn configure(&self, setup: UploadSetup) {
        self.imp().configure(setup);
    }

    pub fn stats(&self) -> UploadStats {
        self.imp().stats()
    }
}
