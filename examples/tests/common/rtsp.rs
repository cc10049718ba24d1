// SPDX-License-Identifier: MPL-2.0
//! An RTSP camera on 127.0.0.1 (gst-rtsp-server) streaming live H.264 test video.

use std::thread::JoinHandle;

use gst_rtsp_server::prelude::*;

pub struct RtspCamera {
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    pub port: u16,
}

impl RtspCamera {
    /// Serves rtsp://127.0.0.1:PORT/stream1; port 0 picks a free one.
    pub fn start(port: u16) -> Self {
        gst::init().expect("gst init");
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let mounts = server.mount_points().expect("mount points");
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        factory.set_launch(
            "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
             ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        );
        factory.set_shared(true);
        mounts.add_factory("/stream1", factory);
        let source = server.attach(Some(&context)).expect("RTSP server binds");
        let port = u16::try_from(server.bound_port()).expect("bound port");
        let thread_loop = main_loop.clone();
        let thread = std::thread::spawn(move || {
            let _ = context.with_thread_default(|| {
                thread_loop.run();
                // Close every client session and the listening socket: the camera goes away.
                server.client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
                if let Some(s) = context.find_source_by_id(&source) {
                    s.destroy();
                }
                while context.iteration(false) {}
            });
        });
        RtspCamera {
            main_loop,
            thread: Some(thread),
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/stream1", self.port)
    }
}

impl Drop for RtspCamera {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
