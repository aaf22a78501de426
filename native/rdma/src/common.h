// Shared declarations of the RDMA provider addon (provider interface v2): devices, connections, pools, the endpoint.
//
// See endpoint.cc for the JavaScript-facing contract and src/lld/iser/rdma-provider-api.ts for the
// TypeScript interface it implements. One Endpoint owns one RDMA CM event channel and, per verbs
// device, a PD and one CQ with its completion channel; both kinds of fd are watched by libuv.
#pragma once

#include <napi.h>
#include <uv.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "poster.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace stgt_rdma {

/** Which provider interface this binary speaks (src/lld/iser/rdma-provider.ts RDMA_PROVIDER_VERSION). */
constexpr uint32_t kProviderVersion = 2;

/**
 * Int32 fields per completion in the batch's `fields` array: conn handle, ibv_wc_opcode,
 * ibv_wc_status, byte_len, vendor_err. The wr_id goes to a parallel Float64Array.
 */
constexpr uint32_t kWcStride = 5;

class Endpoint;

/** One watched fd. Heap-allocated; freed by uv_close's callback (libuv may still touch it until then). */
struct Poller {
  uv_poll_t handle;
  Endpoint* owner = nullptr;
  int device = -1;  // -1: the RDMA CM event channel, else an index into Endpoint::devices_
};

struct Device {
  ibv_context* verbs = nullptr;  // owned by librdmacm (rdma_get_devices)
  std::string name;
  ibv_pd* pd = nullptr;
  ibv_comp_channel* channel = nullptr;
  ibv_cq* cq = nullptr;
  unsigned unackedEvents = 0;  // ibv_destroy_cq waits until every CQ event is acked
  Poller* poller = nullptr;
  ibv_device_attr attr{};
};

struct QpCaps {
  uint32_t sendDepth = 128;
  uint32_t recvDepth = 128;
  uint32_t maxSge = 1;
  uint32_t maxInline = 0;
};

struct Conn {
  uint32_t handle = 0;
  rdma_cm_id* id = nullptr;
  int device = -1;  // set when the QP exists
  bool listener = false;
  // Active side (connect): what rdma_connect sends once the route is resolved.
  bool active = false;
  uint32_t timeoutMs = 2000;
  QpCaps caps;
  rdma_conn_param param{};
  std::vector<uint8_t> privateData;
};

/** Page-aligned anonymous memory; unmapped when the pool and every Buffer over it are gone. */
struct Mapping {
  void* ptr = nullptr;
  size_t length = 0;
  ~Mapping();
};

struct Pool {
  uint32_t handle = 0;
  std::shared_ptr<Mapping> mem;
  size_t bytes = 0;
  std::vector<ibv_mr*> mrs;  // one per device, same index as Endpoint::devices_
};

/** errno as a JS number: the data path's result (0 = posted). */
inline Napi::Number Errno(Napi::Env env, int e) { return Napi::Number::New(env, e < 0 ? -e : e); }

/** Throws a JS Error carrying errno and the failing call's name (control path only). */
Napi::Value ThrowErrno(Napi::Env env, const char* call, int err);

uint32_t OptU32(const Napi::Object& o, const char* key, uint32_t def);

/** The private data of a Buffer/Uint8Array argument (empty when undefined). */
std::vector<uint8_t> BytesOf(const Napi::Value& v);

class Endpoint : public Napi::ObjectWrap<Endpoint> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Endpoint(const Napi::CallbackInfo& info);
  ~Endpoint() override;

  // endpoint.cc
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Devices(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  // cm.cc
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value CreateQp(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Reject(const Napi::CallbackInfo& info);
  Napi::Value Disconnect(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  // verbs.cc
  Napi::Value RegisterPool(const Napi::CallbackInfo& info);
  Napi::Value DeregisterPool(const Napi::CallbackInfo& info);
  Napi::Value PostRecv(const Napi::CallbackInfo& info);
  Napi::Value PostSend(const Napi::CallbackInfo& info);
  Napi::Value PostRdmaWrite(const Napi::CallbackInfo& info);
  Napi::Value PostRdmaRead(const Napi::CallbackInfo& info);
  Napi::Value PostRdmaWriteSend(const Napi::CallbackInfo& info);
  Napi::Value PostRdma(const Napi::CallbackInfo& info, ibv_wr_opcode opcode, bool signaled);

  void OnReadable(Poller* p);

 private:
  // endpoint.cc
  Poller* Watch(int fd, int device);
  void Unwatch(Poller*& p);
  void Shutdown();
  void CallHandler(Napi::FunctionReference& fn, Napi::Value arg);
  Conn* FindConn(const Napi::Value& v);
  Pool* FindPool(const Napi::Value& v);
  uint32_t NewHandle() { return nextHandle_++; }
  // cm.cc
  void DrainCm();
  Napi::Value CmEventToJs(Napi::Env env, rdma_cm_event* ev, std::vector<uint32_t>& toConnect,
                          std::vector<rdma_cm_id*>& orphans);
  int DeviceOf(rdma_cm_id* id) const;
  int MakeQp(Conn* c, const QpCaps& caps);
  void DestroyConn(Conn* c);
  Conn* AddConn(rdma_cm_id* id);
  // verbs.cc
  int OpenDevices();
  void CloseDevices();
  void DrainCq(int device);
  void DispatchCompletions(uint32_t n);
  /** ibv_post_send of a WR chain (at most two), or queued for the posting thread; 0 or errno. */
  int PostSendChain(Conn* c, ibv_send_wr* first);
  /** Posts the worker could not make: error completions, in batches (postThread only). */
  void DeliverPostFailures();
  /** Before a QP or an MR goes: nothing of it may still be queued. */
  void QuiescePosts() {
    if (poster_ != nullptr) poster_->Quiesce();
  }

  rdma_event_channel* cm_ = nullptr;
  Poller* cmPoller_ = nullptr;
  ibv_context** devList_ = nullptr;
  std::vector<Device> devices_;
  std::unordered_map<uint32_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint64_t, Conn*> byQp_;  // (device << 32 | qp_num) -> conn, for completions
  std::unordered_map<uint32_t, std::unique_ptr<Pool>> pools_;
  uint32_t nextHandle_ = 1;
  uint32_t cqSize_ = 4096;

  Napi::ObjectReference handlers_;
  Napi::FunctionReference onCm_;
  Napi::FunctionReference onWc_;
  Napi::ObjectReference batch_;  // { count, wrId: Float64Array, fields: Int32Array }, reused
  double* wcIds_ = nullptr;
  int32_t* wcFields_ = nullptr;
  uint32_t batchMax_ = 64;
  std::unique_ptr<Napi::AsyncContext> async_;
  bool closed_ = false;
  bool dispatching_ = false;
  std::unique_ptr<SendPoster> poster_;  // option postThread
};

}  // namespace stgt_rdma
