# ipvsd's N-API addon (native/src), built by `npm ci` through the package's "install" script
# (node-gyp rebuild) into build/Release/ipvsd_native.node; src/sys/native.ts loads it.
{
  "targets": [
    {
      "target_name": "ipvsd_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/errno_error.cc",
        "native/src/garp.cc",
        "native/src/icmp_socket.cc",
        "native/src/listen_fd.cc",
        "native/src/sd_notify.cc",
        "native/src/subreaper.cc",
        "native/src/tcp_connect.cc",
        "native/src/vrrp_socket.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # No C++ exception ever reaches JavaScript: node-addon-api reports errors as pending
      # JavaScript exceptions, and the code is compiled without exception support at all.
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a throw while the environment is shutting down
      # (a worker being terminated) is dropped instead of aborting the process.
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-fno-exceptions"]
    }
  ]
}
