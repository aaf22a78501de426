# node-gyp build of the optional I/O addon (the iscsi LLD's own accept loop; libc only, no -dev package).
# Built by `node native/build.mjs` (npm run build:native) with --nodedir=/usr; never by the main tsc build.
{
  "targets": [
    {
      "target_name": "stgt_io",
      "sources": ["src/listener.cc", "src/peek.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
