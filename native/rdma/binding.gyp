# node-gyp build of the optional RDMA provider addon (libibverbs + librdmacm) for the iser LLD.
# Built by `node native/build.mjs` (npm run build:native) with --nodedir=/usr; never by the main tsc build.
{
  "targets": [
    {
      "target_name": "stgt_rdma",
      "sources": ["src/module.cc", "src/endpoint.cc", "src/cm.cc", "src/verbs.cc", "src/poster.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "libraries": ["-libverbs", "-lrdmacm", "-lpthread"]
    }
  ]
}
