// Control calls that may block on the cluster (connect, open, close, size, shutdown, image metadata, extents): AsyncWorkers, off the loop thread.
//
// Every callback gets (err) or (null, value). An error carries `errno` (positive) and `step` (the
// librados/librbd call that failed) so the store can name the cause in tgtadm's answer and log.
#include <cerrno>
#include <cstring>
#include <functional>
#include <utility>

#include "common.h"

namespace stgt_rbd {

namespace {

/** Runs `work` on a threadpool thread; calls `done` (loop thread) to build the success value. */
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Function cb, std::function<int(std::string*)> work, std::function<Napi::Value(Napi::Env)> done,
      std::function<void()> failed = nullptr)
      : Napi::AsyncWorker(cb, "stgt_rbd.control"), work_(std::move(work)), done_(std::move(done)), failed_(std::move(failed)) {}

  void Execute() override { rc_ = work_(&step_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (rc_ < 0) {
      if (failed_) failed_();
      Napi::Error e = Napi::Error::New(env, step_ + ": " + std::strerror(-rc_));
      e.Set("errno", Napi::Number::New(env, -rc_));
      e.Set("step", Napi::String::New(env, step_));
      Callback().Call({e.Value()});
      return;
    }
    Callback().Call({env.Null(), done_ ? done_(env) : env.Undefined()});
  }

 private:
  std::function<int(std::string*)> work_;
  std::function<Napi::Value(Napi::Env)> done_;
  std::function<void()> failed_;
  std::string step_;
  int rc_ = 0;
};

std::string StringProp(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

/** [[s0, s1, ...], ...] from a JS array of string tuples (short tuples are padded with ""). */
std::vector<std::vector<std::string>> Tuples(Napi::Object o, const char* key, uint32_t width) {
  std::vector<std::vector<std::string>> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  auto a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value p = a.Get(i);
    if (!p.IsArray()) continue;
    auto pa = p.As<Napi::Array>();
    std::vector<std::string> t(width);
    for (uint32_t j = 0; j < width && j < pa.Length(); j++) {
      Napi::Value e = pa.Get(j);
      if (e.IsString()) t[j] = e.As<Napi::String>().Utf8Value();
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool CallbackArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsFunction()) {
    Napi::TypeError::New(info.Env(), "expected a callback").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

Napi::Value ClusterValue(Napi::Env env, ClusterHandle* h);
Napi::Value ImageValue(Napi::Env env, ImageHandle* h);

}  // namespace

// connect({cluster, name, conf, key, defaults: [[k, ifValue, v]], set: [[k, v]]}, cb(err, cluster)).
// Order: the conf file (or Ceph's default search), then CEPH_ARGS, then each default k=v where the
// configuration still has Ceph's own value ifValue (so ceph.conf keeps the last word), then `set`
// and the key, then rados_connect.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsObject() || !CallbackArg(info, 1)) {
    if (!info.Env().IsExceptionPending()) Napi::TypeError::New(info.Env(), "connect(options, cb)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto o = info[0].As<Napi::Object>();
  std::string clusterName = StringProp(o, "cluster");
  std::string name = StringProp(o, "name");
  std::string conf = StringProp(o, "conf");
  std::string key = StringProp(o, "key");
  auto defaults = Tuples(o, "defaults", 3);
  auto set = Tuples(o, "set", 2);
  auto* h = new ClusterHandle();
  auto work = [=](std::string* step) -> int {
    rados_t c = nullptr;
    *step = "rados_create2";
    int r = rados_create2(&c, clusterName.empty() ? "ceph" : clusterName.c_str(), name.empty() ? "client.admin" : name.c_str(), 0);
    if (r < 0) return r;
    auto fail = [&](const char* s, int rc) {
      *step = s;
      rados_shutdown(c);
      return rc;
    };
    r = rados_conf_read_file(c, conf.empty() ? nullptr : conf.c_str());
    if (r < 0) return fail("rados_conf_read_file", r);
    r = rados_conf_parse_env(c, nullptr);
    if (r < 0) return fail("rados_conf_parse_env", r);
    for (const auto& d : defaults) {
      char cur[128] = {0};
      if (rados_conf_get(c, d[0].c_str(), cur, sizeof cur) == 0 && d[1] != cur) continue;
      r = rados_conf_set(c, d[0].c_str(), d[2].c_str());
      if (r < 0) return fail("rados_conf_set", r);
    }
    for (const auto& kv : set) {
      r = rados_conf_set(c, kv[0].c_str(), kv[1].c_str());
      if (r < 0) return fail("rados_conf_set", r);
    }
    if (!key.empty()) {
      r = rados_conf_set(c, "key", key.c_str());
      if (r < 0) return fail("rados_conf_set key", r);
    }
    r = rados_connect(c);
    if (r < 0) return fail("rados_connect", r);
    h->cluster = c;
    return 0;
  };
  auto done = [h](Napi::Env env) { return ClusterValue(env, h); };
  (new Job(info[1].As<Napi::Function>(), work, done, [h] { delete h; }))->Queue();
  return info.Env().Undefined();
}

// shutdown(cluster, cb(err)): rados_shutdown; every image of the cluster must be closed first.
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  ClusterHandle* h = info.Length() > 0 ? UnwrapCluster(info[0]) : nullptr;
  if (h == nullptr) {
    Napi::TypeError::New(info.Env(), "not a cluster").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 1)) return info.Env().Undefined();
  rados_t c = h->cluster;
  h->cluster = nullptr;
  auto work = [c](std::string*) -> int {
    if (c != nullptr) rados_shutdown(c);
    return 0;
  };
  (new Job(info[1].As<Napi::Function>(), work, nullptr))->Queue();
  return info.Env().Undefined();
}

// open(context, cluster, {pool, image, snap, readOnly, token}, cb(err, {image, size, objectSize})).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Context* ctx = info.Length() > 0 ? UnwrapContext(info[0]) : nullptr;
  ClusterHandle* ch = info.Length() > 1 ? UnwrapCluster(info[1]) : nullptr;
  if (ctx == nullptr || ctx->closed() || ch == nullptr || ch->cluster == nullptr || info.Length() < 4 || !info[2].IsObject()) {
    Napi::TypeError::New(info.Env(), "open(context, cluster, options, cb)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 3)) return info.Env().Undefined();
  auto o = info[2].As<Napi::Object>();
  std::string pool = StringProp(o, "pool");
  std::string image = StringProp(o, "image");
  std::string snap = StringProp(o, "snap");
  bool readOnly = o.Get("readOnly").ToBoolean().Value();
  Napi::Value tok = o.Get("token");
  double token = tok.IsNumber() ? tok.As<Napi::Number>().DoubleValue() : 0;
  rados_t cluster = ch->cluster;
  auto* h = new ImageHandle();
  h->queue = ctx->queue();
  h->token = token;
  auto size = std::make_shared<std::pair<uint64_t, uint64_t>>(0, 0);
  auto work = [=](std::string* step) -> int {
    *step = "rados_ioctx_create";
    int r = rados_ioctx_create(cluster, pool.c_str(), &h->ioctx);
    if (r < 0) return r;
    // A snapshot, or a read-only LU, is opened read-only: no header watch, no exclusive lock,
    // and librbd itself refuses writes (-EROFS).
    *step = readOnly ? "rbd_open_read_only" : "rbd_open";
    const char* s = snap.empty() ? nullptr : snap.c_str();
    r = readOnly ? rbd_open_read_only(h->ioctx, image.c_str(), &h->image, s) : rbd_open(h->ioctx, image.c_str(), &h->image, s);
    if (r < 0) {
      rados_ioctx_destroy(h->ioctx);
      h->ioctx = nullptr;
      h->image = nullptr;
      return r;
    }
    rbd_image_info_t st;
    *step = "rbd_stat";
    r = rbd_stat(h->image, &st, sizeof st);
    if (r < 0) {
      rbd_close(h->image);
      rados_ioctx_destroy(h->ioctx);
      h->image = nullptr;
      h->ioctx = nullptr;
      return r;
    }
    size->first = st.size;
    size->second = st.obj_size;
    return 0;
  };
  auto done = [h, size](Napi::Env env) -> Napi::Value {
    auto out = Napi::Object::New(env);
    out.Set("image", ImageValue(env, h));
    out.Set("size", Napi::Number::New(env, static_cast<double>(size->first)));
    out.Set("objectSize", Napi::Number::New(env, static_cast<double>(size->second)));
    return out;
  };
  (new Job(info[3].As<Napi::Function>(), work, done, [h] { delete h; }))->Queue();
  return info.Env().Undefined();
}

// close(image, cb(err)): unwatches, rbd_close (which waits for librbd's own in-flight work).
Napi::Value Close(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr) {
    Napi::TypeError::New(info.Env(), "not an image").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 1)) return info.Env().Undefined();
  rbd_image_t img = h->image;
  rados_ioctx_t io = h->ioctx;
  bool watching = h->watching;
  uint64_t watch = h->watch;
  h->image = nullptr;
  h->ioctx = nullptr;
  h->watching = false;
  auto work = [=](std::string* step) -> int {
    int r = 0;
    if (img != nullptr) {
      if (watching) rbd_update_unwatch(img, watch);
      *step = "rbd_close";
      r = rbd_close(img);
    }
    if (io != nullptr) rados_ioctx_destroy(io);
    return r;
  };
  (new Job(info[1].As<Napi::Function>(), work, nullptr))->Queue();
  return info.Env().Undefined();
}

// size(image, cb(err, bytes)): rbd_get_size, which refreshes the header first when librbd saw an update.
Napi::Value GetSize(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr || h->image == nullptr) {
    Napi::TypeError::New(info.Env(), "not an open image").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 1)) return info.Env().Undefined();
  rbd_image_t img = h->image;
  auto size = std::make_shared<uint64_t>(0);
  auto work = [img, size](std::string* step) -> int {
    *step = "rbd_get_size";
    return rbd_get_size(img, size.get());
  };
  auto done = [size](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*size)); };
  (new Job(info[1].As<Napi::Function>(), work, done))->Queue();
  return info.Env().Undefined();
}

// extents(image, offset, length, cb(err, [offset, length, ...])): the allocated (data) extents of the
// image head in [offset, offset + length), in order, from rbd_diff_iterate2 against no snapshot with
// the parent included (a clone's unwritten ranges read the parent's data). Holes are the gaps. Costs
// one request per object in the range without the object map, so the store asks in windows.
Napi::Value Extents(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr || h->image == nullptr || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(info.Env(), "extents(image, offset, length, cb)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 3)) return info.Env().Undefined();
  rbd_image_t img = h->image;
  uint64_t off = static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  uint64_t len = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  auto out = std::make_shared<std::vector<uint64_t>>();
  auto work = [img, off, len, out](std::string* step) -> int {
    *step = "rbd_diff_iterate2";
    auto cb = [](uint64_t o, size_t l, int exists, void* arg) -> int {
      auto* v = static_cast<std::vector<uint64_t>*>(arg);
      if (!exists || l == 0) return 0;
      // librbd reports per object: merge what touches the previous extent
      if (!v->empty() && (*v)[v->size() - 2] + (*v)[v->size() - 1] == o) {
        (*v)[v->size() - 1] += l;
      } else {
        v->push_back(o);
        v->push_back(l);
      }
      return 0;
    };
    return rbd_diff_iterate2(img, nullptr, off, len, 1, 0, cb, out.get());
  };
  auto done = [out](Napi::Env env) -> Napi::Value {
    Napi::Array a = Napi::Array::New(env, out->size());
    for (size_t i = 0; i < out->size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>((*out)[i])));
    return a;
  };
  (new Job(info[3].As<Napi::Function>(), work, done))->Queue();
  return info.Env().Undefined();
}

// metaList(image, prefix, cb(err, [key, value, ...])): the image metadata whose keys start with prefix
// (rbd_metadata_list, retried with the sizes librbd asks for).
Napi::Value MetaList(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr || h->image == nullptr || info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(info.Env(), "metaList(image, prefix, cb)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 2)) return info.Env().Undefined();
  rbd_image_t img = h->image;
  std::string prefix = info[1].As<Napi::String>().Utf8Value();
  auto out = std::make_shared<std::vector<std::string>>();
  auto work = [img, prefix, out](std::string* step) -> int {
    *step = "rbd_metadata_list";
    size_t klen = 4096, vlen = 65536;
    for (int tries = 0; tries < 8; tries++) {
      std::vector<char> keys(klen), vals(vlen);
      int r = rbd_metadata_list(img, "", 0, keys.data(), &klen, vals.data(), &vlen);
      if (r == -ERANGE) continue;  // klen/vlen now hold the sizes needed
      if (r < 0) return r;
      // keys and values: NUL-terminated strings one after another, in the same order.
      size_t k = 0, v = 0;
      while (k < klen && keys[k] != '\0' && v < vlen) {
        std::string key(&keys[k]), val(&vals[v]);
        k += key.size() + 1;
        v += val.size() + 1;
        if (key.compare(0, prefix.size(), prefix) == 0) {
          out->push_back(key);
          out->push_back(val);
        }
      }
      return 0;
    }
    return -ERANGE;
  };
  auto done = [out](Napi::Env env) -> Napi::Value {
    Napi::Array a = Napi::Array::New(env, out->size());
    for (size_t i = 0; i < out->size(); i++) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, (*out)[i]));
    return a;
  };
  (new Job(info[2].As<Napi::Function>(), work, done))->Queue();
  return info.Env().Undefined();
}

// metaSwap(image, key, expect, next, value | null, cb(err)): sets image metadata `key` to `value` (null:
// removes it) and `key`.version to `next`, only if the header object's xattr `key`.version still holds
// `expect` ("" matches a missing one: a missing xattr compares as empty). One RADOS write op on the
// image's header object, so the compare and both writes are atomic: of two gateways that read the
// same version, one wins and the other gets ECANCELED and must re-read. The metadata keys are the
// omap keys librbd keeps them under ("metadata_" + key), so rbd_metadata_list and `rbd image-meta`
// see them. Then an empty notify on the header, which librbd (and krbd) treat as a header update,
// so every watcher re-reads; a watcher that does not answer within 5 s (a gateway that died) does
// not fail the write, which is already durable.
Napi::Value MetaSwap(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr || h->image == nullptr || info.Length() < 5 || !info[1].IsString() || !info[2].IsString() || !info[3].IsString() ||
      !(info[4].IsString() || info[4].IsNull())) {
    Napi::TypeError::New(info.Env(), "metaSwap(image, key, expect, next, value | null, cb)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!CallbackArg(info, 5)) return info.Env().Undefined();
  rbd_image_t img = h->image;
  rados_ioctx_t io = h->ioctx;
  std::string key = info[1].As<Napi::String>().Utf8Value();
  std::string expect = info[2].As<Napi::String>().Utf8Value();
  std::string next = info[3].As<Napi::String>().Utf8Value();
  bool remove = info[4].IsNull();
  std::string value = remove ? std::string() : info[4].As<Napi::String>().Utf8Value();
  auto work = [img, io, key, expect, next, remove, value](std::string* step) -> int {
    *step = "rbd_get_id";
    char id[128];
    int r = rbd_get_id(img, id, sizeof id);
    if (r < 0) return r;
    std::string oid = std::string("rbd_header.") + id;
    std::string guard = key + ".version";
    std::string mkey = "metadata_" + key, mver = "metadata_" + guard;
    *step = "rados_write_op_operate";
    rados_write_op_t op = rados_create_write_op();
    if (op == nullptr) return -ENOMEM;
    rados_write_op_cmpxattr(op, guard.c_str(), LIBRADOS_CMPXATTR_OP_EQ, expect.data(), expect.size());
    rados_write_op_setxattr(op, guard.c_str(), next.data(), next.size());
    const char* vkeys[2] = {mkey.c_str(), mver.c_str()};
    const char* vals[2] = {value.data(), next.data()};
    size_t lens[2] = {value.size(), next.size()};
    if (remove) {
      rados_write_op_omap_rm_keys(op, vkeys, 1);
      rados_write_op_omap_set(op, vkeys + 1, vals + 1, lens + 1, 1);
    } else {
      rados_write_op_omap_set(op, vkeys, vals, lens, 2);
    }
    r = rados_write_op_operate2(op, io, oid.c_str(), nullptr, 0);
    rados_release_write_op(op);
    if (r < 0) return r;
    char* reply = nullptr;
    size_t replyLen = 0;
    rados_notify2(io, oid.c_str(), "", 0, 5000, &reply, &replyLen);
    if (reply != nullptr) rados_buffer_free(reply);
    return 0;
  };
  (new Job(info[5].As<Napi::Function>(), work, nullptr))->Queue();
  return info.Env().Undefined();
}

namespace {
void OnUpdate(void* arg) {
  auto* h = static_cast<ImageHandle*>(arg);
  h->queue->Push(Entry{h->token, 0, kImageUpdated});
}
}  // namespace

// watch(image): header updates (resize, snapshots) arrive as {token, 0, kImageUpdated}. Returns 0 or -errno.
Napi::Value Watch(const Napi::CallbackInfo& info) {
  ImageHandle* h = info.Length() > 0 ? UnwrapImage(info[0]) : nullptr;
  if (h == nullptr || h->image == nullptr) {
    Napi::TypeError::New(info.Env(), "not an open image").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (h->watching) return Napi::Number::New(info.Env(), 0);
  int r = rbd_update_watch(h->image, &h->watch, OnUpdate, h);
  if (r == 0) h->watching = true;
  return Napi::Number::New(info.Env(), r);
}

namespace {

const napi_type_tag kClusterTag = {0x7c3b9e21a4f05d18ULL, 0x91e2c4d6f8a0b3c5ULL};

Napi::Value ClusterValue(Napi::Env env, ClusterHandle* h) {
  auto ext = Napi::External<ClusterHandle>::New(env, h, [](Napi::Env, ClusterHandle* p) {
    // Only a leaked cluster gets here with a live client (the store shuts down what it opened).
    if (p->cluster != nullptr) rados_shutdown(p->cluster);
    delete p;
  });
  napi_type_tag_object(env, ext, &kClusterTag);
  return ext;
}

}  // namespace

ClusterHandle* UnwrapCluster(const Napi::Value& v) {
  bool ok = false;
  if (!v.IsExternal() || napi_check_object_type_tag(v.Env(), v, &kClusterTag, &ok) != napi_ok || !ok) return nullptr;
  return v.As<Napi::External<ClusterHandle>>().Data();
}

namespace {

const napi_type_tag kImageTag = {0x2f6d8a0c1e3b5d7fULL, 0xa4c6e8f0b2d4f6a8ULL};

Napi::Value ImageValue(Napi::Env env, ImageHandle* h) {
  auto ext = Napi::External<ImageHandle>::New(env, h, [](Napi::Env, ImageHandle* p) {
    if (p->image != nullptr) {
      if (p->watching) rbd_update_unwatch(p->image, p->watch);
      rbd_close(p->image);
    }
    if (p->ioctx != nullptr) rados_ioctx_destroy(p->ioctx);
    delete p;
  });
  napi_type_tag_object(env, ext, &kImageTag);
  return ext;
}

}  // namespace

ImageHandle* UnwrapImage(const Napi::Value& v) {
  bool ok = false;
  if (!v.IsExternal() || napi_check_object_type_tag(v.Env(), v, &kImageTag, &ok) != napi_ok || !ok) return nullptr;
  return v.As<Napi::External<ImageHandle>>().Data();
}

}  // namespace stgt_rbd
