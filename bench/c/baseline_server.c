/* The C baseline for `make bench`: a minimal gst-rtsp-server with one shared media,
 * videotestsrc (moving ball) -> I420 -> x264enc with camera-streaming's default properties
 * -> h264parse -> rtph264pay. Nothing of camera-streaming is in it.
 *
 *   baseline_server PORT WIDTH HEIGHT FPS BITRATE_KBPS [KEY_INT_MAX [SOURCE]]
 *
 * SOURCE replaces the videotestsrc: a launch fragment making I420 frames at that size and
 * rate (the bench reads frames of camera-streaming's own test pattern from files, so that
 * both servers encode the same pictures).
 *
 * Serves rtsp://127.0.0.1:PORT/stream until SIGINT/SIGTERM.
 * Build: gcc -O2 baseline_server.c $(pkg-config --cflags --libs gstreamer-rtsp-server-1.0)
 */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <stdlib.h>

static gboolean on_signal(gpointer loop) {
  g_main_loop_quit((GMainLoop *)loop);
  return G_SOURCE_REMOVE;
}

static gboolean on_cleanup(gpointer pool) {
  gst_rtsp_session_pool_cleanup((GstRTSPSessionPool *)pool);
  return G_SOURCE_CONTINUE;
}

int main(int argc, char *argv[]) {
  gst_init(&argc, &argv);
  if (argc < 6) {
    fprintf(stderr, "usage: %s PORT WIDTH HEIGHT FPS BITRATE_KBPS [KEY_INT_MAX]\n", argv[0]);
    return 2;
  }
  int fps = atoi(argv[4]);
  int key_int = argc > 6 ? atoi(argv[6]) : fps; /* camera-streaming: fps * 1 s */
  const gchar *source = argc > 7 ? argv[7] : "videotestsrc is-live=true pattern=ball";
  gchar *launch = g_strdup_printf(
      "( %s "
      "! video/x-raw,format=I420,width=%s,height=%s,framerate=%d/1 "
      "! x264enc tune=zerolatency speed-preset=superfast bitrate=%s key-int-max=%d "
      "bframes=0 byte-stream=true "
      "! h264parse config-interval=-1 "
      "! rtph264pay name=pay0 pt=96 config-interval=0 aggregate-mode=zero-latency )",
      source, argv[2], argv[3], fps, argv[5], key_int);

  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  GstRTSPServer *server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, argv[1]);
  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, launch);
  gst_rtsp_media_factory_set_shared(factory, TRUE);
  gst_rtsp_mount_points_add_factory(mounts, "/stream", factory);
  g_object_unref(mounts);
  if (gst_rtsp_server_attach(server, NULL) == 0) {
    fprintf(stderr, "cannot listen on 127.0.0.1:%s\n", argv[1]);
    return 1;
  }
  GstRTSPSessionPool *pool = gst_rtsp_server_get_session_pool(server);
  g_timeout_add_seconds(2, on_cleanup, pool);
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_unix_signal_add(SIGTERM, on_signal, loop);
  printf("listening on rtsp://127.0.0.1:%s/stream\n", argv[1]);
  fflush(stdout);
  g_main_loop_run(loop);
  g_object_unref(pool);
  g_object_unref(server);
  g_main_loop_unref(loop);
  g_free(launch);
  return 0;
}
