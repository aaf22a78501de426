// Module entry of the RDMA provider addon (interface v2): providerVersion, listDevices, cmProbe, createEndpoint.
//
// The library is mapped into tgtd only when the iser module's init loads this file (seed 000).
// listDevices and cmProbe are interface v1 and unchanged; createEndpoint(handlers, options)
// returns an Endpoint (endpoint.cc, cm.cc, verbs.cc).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common.h"

namespace stgt_rdma {
namespace {

// ibv_transport_type -> the words rdma-core's ibv_devinfo prints.
const char* TransportName(ibv_transport_type t) {
  switch (t) {
    case IBV_TRANSPORT_IB: return "InfiniBand";
    case IBV_TRANSPORT_IWARP: return "iWARP";
    case IBV_TRANSPORT_USNIC: return "usNIC";
    case IBV_TRANSPORT_USNIC_UDP: return "usNIC UDP";
    default: return "unknown";
  }
}

// The node GUID is big-endian on the wire (IBA 14.2.5.2); print it as ibv_devinfo does, in four groups.
std::string GuidText(__be64 guid) {
  const uint64_t g = be64toh(guid);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04x:%04x:%04x:%04x", static_cast<unsigned>((g >> 48) & 0xffff),
                static_cast<unsigned>((g >> 32) & 0xffff), static_cast<unsigned>((g >> 16) & 0xffff),
                static_cast<unsigned>(g & 0xffff));
  return buf;
}

Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr) return ThrowErrno(env, "ibv_get_device_list", errno);
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(n));
  for (int i = 0; i < n; i++) {
    Napi::Object d = Napi::Object::New(env);
    const char* name = ibv_get_device_name(list[i]);
    d.Set("name", Napi::String::New(env, name != nullptr ? name : ""));
    d.Set("nodeGuid", Napi::String::New(env, GuidText(ibv_get_device_guid(list[i]))));
    d.Set("transport", Napi::String::New(env, TransportName(list[i]->transport_type)));
    out.Set(static_cast<uint32_t>(i), d);
  }
  ibv_free_device_list(list);
  return out;
}

Napi::Value CmProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rdma_event_channel* ch = rdma_create_event_channel();
  if (ch == nullptr) return Napi::String::New(env, std::string("rdma_create_event_channel: ") + std::strerror(errno));
  rdma_destroy_event_channel(ch);
  return Napi::String::New(env, "");
}

struct AddonData {
  Napi::FunctionReference endpointCtor;
};

Napi::Value CreateEndpoint(const Napi::CallbackInfo& info) {
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  return data->endpointCtor.New({info[0], info[1]});
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->endpointCtor = Napi::Persistent(Endpoint::Define(env));
  env.SetInstanceData(data);
  exports.Set("providerVersion", Napi::Number::New(env, kProviderVersion));
  exports.Set("listDevices", Napi::Function::New(env, ListDevices, "listDevices"));
  exports.Set("cmProbe", Napi::Function::New(env, CmProbe, "cmProbe"));
  exports.Set("createEndpoint", Napi::Function::New(env, CreateEndpoint, "createEndpoint"));
  return exports;
}

}  // namespace stgt_rdma

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return stgt_rdma::Init(env, exports); }

NODE_API_MODULE(stgt_rdma, InitAddon)
