# node-gyp build of the optional librbd addon for the rbd backing store (src/bs/rbd.ts).
# Built by `node native/build.mjs` (npm run build:native) with --nodedir=/usr; never by the main tsc build.
{
  "targets": [
    {
      "target_name": "stgt_rbd",
      "sources": ["src/module.cc", "src/queue.cc", "src/control.cc", "src/io.cc", "src/submit.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-lrbd", "-lrados"]
    }
  ]
}
