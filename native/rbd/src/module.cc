// Entry point of the librbd addon (interface v1) for stgt's rbd backing store (src/bs/rbd-addon.ts has the TypeScript view).
//
// Exports:
//   addonVersion                       the interface version (kAddonVersion)
//   stride, batch                      layout of completion batches: batch entries of stride doubles
//   createContext(handler, f64array[, submitThread])   a completion context; handler(n) is called with n
//                                      entries (id, result, kind) written into f64array (batch * stride);
//                                      submitThread: librbd calls are made by one addon thread
//   submitThread                       true: this build has the submission thread
//   closeContext(ctx)                  stops deliveries (after every image of it is closed)
//   connect(opts, cb) / shutdown(cluster, cb)
//   open(ctx, cluster, opts, cb) / close(image, cb) / size(image, cb) / watch(image)
//   metaList(image, prefix, cb(err, [k, v, ...])) / metaSwap(image, key, expect, next, value | null, cb)   image metadata
//   extents(image, off, len, cb(err, [off, len, ...]))   allocated extents (rbd_diff_iterate2)
//   read(image, off, buf, id) / write(image, off, bufs, id) / discard(image, off, len, id) / flush(image, id)
//     -> 0 (queued; the result comes in a batch) or -errno (refused at once)
#include "common.h"

namespace stgt_rbd {

namespace {

const napi_type_tag kContextTag = {0x5a1e3c7b9d2f4e60ULL, 0x0b8d6f4a2c1e3579ULL};

Napi::Value CreateContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < static_cast<size_t>(kBatch) * kStride) {
    Napi::TypeError::New(env, "createContext(handler, Float64Array(batch * stride))").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Optional third argument (added within interface v1): true for a submission thread (submit.cc).
  bool submitThread = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  auto* ctx = new Context(env, info[0].As<Napi::Function>(), info[1].As<Napi::Float64Array>(), submitThread);
  auto ext = Napi::External<Context>::New(env, ctx, [](Napi::Env, Context* c) { delete c; });
  napi_type_tag_object(env, ext, &kContextTag);
  return ext;
}

Napi::Value CloseContext(const Napi::CallbackInfo& info) {
  Context* ctx = info.Length() > 0 ? UnwrapContext(info[0]) : nullptr;
  if (ctx == nullptr) {
    Napi::TypeError::New(info.Env(), "not a context").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  ctx->Close();
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", Napi::Number::New(env, kAddonVersion));
  exports.Set("stride", Napi::Number::New(env, kStride));
  exports.Set("batch", Napi::Number::New(env, kBatch));
  exports.Set("submitThread", Napi::Boolean::New(env, true));
  int major = 0, minor = 0, extra = 0;
  rbd_version(&major, &minor, &extra);
  exports.Set("librbdVersion", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(extra)));
  exports.Set("createContext", Napi::Function::New(env, CreateContext, "createContext"));
  exports.Set("closeContext", Napi::Function::New(env, CloseContext, "closeContext"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("size", Napi::Function::New(env, GetSize, "size"));
  exports.Set("watch", Napi::Function::New(env, Watch, "watch"));
  exports.Set("metaList", Napi::Function::New(env, MetaList, "metaList"));
  exports.Set("extents", Napi::Function::New(env, Extents, "extents"));
  exports.Set("metaSwap", Napi::Function::New(env, MetaSwap, "metaSwap"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("discard", Napi::Function::New(env, Discard, "discard"));
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
  return exports;
}

Context* UnwrapContext(const Napi::Value& v) {
  bool ok = false;
  if (!v.IsExternal() || napi_check_object_type_tag(v.Env(), v, &kContextTag, &ok) != napi_ok || !ok) return nullptr;
  return v.As<Napi::External<Context>>().Data();
}

}  // namespace stgt_rbd

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return stgt_rbd::Init(env, exports); }

NODE_API_MODULE(stgt_rbd, InitModule)
