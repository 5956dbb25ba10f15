// service register|deregister|list|watch: the registry's own records (DESIGN.md §6), read and
// written through the SDK's Registrar and Discovery so pharosctl and services agree on the
// layout: `/services/<service>/<id>`, a JSON value, attached to the instance's lease.
#include <memory>

#include "client/discovery.h"
#include "client/kv.h"
#include "client/lease.h"
#include "client/registrar.h"
#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

struct ServiceFlags {
  std::string service, id, address, zone, version;
  int64_t weight = 1;
  int64_t ttl = 10;
  std::vector<std::string> meta;
};

const std::string& Prefix() {
  static const std::string prefix = client::RegistrarOptions{}.prefix;
  return prefix;
}

std::vector<std::string> InstanceRow(const client::ServiceInstance& i) {
  return {i.service, i.id, i.Endpoint(), std::to_string(i.weight), i.zone, i.version};
}

std::string InstanceLine(const client::ServiceInstance& i) {
  std::string line;
  for (const auto& cell : InstanceRow(i)) line += (line.empty() ? "" : ", ") + cell;
  return line + "\n";
}

// A registration lives as long as this process: a record without a live owner would send
// callers to an instance that may be gone. So: register, keep alive until a signal, deregister.
int RunRegister(Context& ctx, const ServiceFlags& f) {
  auto hp = ParseHostPort(f.address);
  if (!hp.ok()) return UsageError("ADDRESS:PORT: " + hp.status().message());
  if (f.weight < 0 || f.weight > UINT32_MAX) return UsageError("--weight must be 0..4294967295");
  if (f.ttl <= 0) return UsageError("--ttl must be a positive number of seconds");
  client::ServiceInstance instance{.id = f.id,
                                   .service = f.service,
                                   .address = hp->host,
                                   .port = hp->port,
                                   .weight = static_cast<uint32_t>(f.weight),
                                   .zone = f.zone,
                                   .version = f.version};
  for (const auto& kv : f.meta) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return UsageError("--meta takes key=value, not " + kv);
    instance.metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  Signals& signals = ctx.signals();
  signals.Catch();
  client::Registrar registrar(
      ctx.client(),
      {.ttl_seconds = f.ttl, .on_reregister = [](const std::string& key, const Status& s) {
         // The lease was lost (a partition, an expiry) and the registrar put the record back.
         if (s.ok()) {
           std::cerr << "re-registered " << key << " under a new lease" << std::endl;
         } else {
           std::cerr << "re-registering " << key << " failed, retrying: " << Describe(s)
                     << std::endl;
         }
       }});
  if (Status s = registrar.Register(instance); !s.ok()) return Fail(s);
  const std::string key = registrar.KeyOf(f.service, f.id);
  Emit(ctx.format() == Format::kJson ? "{\"key\":" + JsonQuote(key) + ",\"lease\":" +
                                           JsonQuote(LeaseHex(registrar.LeaseOf(f.service, f.id))) +
                                           ",\"instance\":" + client::ToJson(instance) + "}\n"
                                     : "registered " + key + " with lease " +
                                           LeaseHex(registrar.LeaseOf(f.service, f.id)) + "\n");
  signals.WaitUntil([&] { return signals.received() > 0; });
  if (Status s = registrar.Deregister(f.service, f.id); !s.ok()) {
    return Fail("deregistering " + key + ": " + Describe(s));
  }
  return kExitOk;
}

// For records whose owner is gone: delete the record and revoke the lease it was written with
// (which would delete it too, and anything else its owner attached).
int RunDeregister(Context& ctx, const ServiceFlags& f) {
  const std::string key = Prefix() + f.service + "/" + f.id;
  client::KV kv(ctx.client());
  auto record = kv.Get(key);
  if (!record.ok()) return Fail(record.status());
  if (record->kvs_size() == 0) return Fail(key + " is not registered");
  const int64_t lease = record->kvs(0).lease();
  if (lease != 0) {
    auto revoked = client::Lease(ctx.client()).Revoke(lease);
    if (!revoked.ok() && revoked.status().code() != StatusCode::kLeaseNotFound) {
      return Fail("revoking lease " + LeaseHex(lease) + ": " + Describe(revoked.status()));
    }
  }
  auto deleted = kv.Delete(key);  // a record without a lease, or written again meanwhile
  if (!deleted.ok()) return Fail(deleted.status());
  Emit(ctx.format() == Format::kJson
           ? "{\"key\":" + JsonQuote(key) + ",\"lease\":" + JsonQuote(LeaseHex(lease)) + "}\n"
           : "deregistered " + key + (lease ? " and revoked lease " + LeaseHex(lease) : "") + "\n");
  return kExitOk;
}

int RunList(Context& ctx, const ServiceFlags& f) {
  const std::string prefix = Prefix() + (f.service.empty() ? "" : f.service + "/");
  auto r = client::KV(ctx.client()).Get(prefix, {.prefix = true});
  if (!r.ok()) return Fail(r.status());
  std::vector<client::ServiceInstance> instances;
  for (const auto& kv : r->kvs()) {
    auto instance = client::InstanceFromJson(kv.value());
    if (!instance.ok()) {
      std::cerr << "skipping " << kv.key() << ": " << instance.status().message() << std::endl;
      continue;
    }
    instances.push_back(std::move(*instance));
  }
  if (ctx.format() == Format::kJson) {
    std::string out = "[";
    for (const auto& i : instances) out += (out.size() > 1 ? "," : "") + client::ToJson(i);
    Emit(out + "]\n");
  } else if (ctx.format() == Format::kTable) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& i : instances) rows.push_back(InstanceRow(i));
    Emit(Table({"SERVICE", "ID", "ADDRESS", "WEIGHT", "ZONE", "VERSION"}, rows));
  } else {
    std::string out;
    for (const auto& i : instances) out += InstanceLine(i);
    Emit(out);
  }
  return kExitOk;
}

int RunWatch(Context& ctx, const ServiceFlags& f) {
  Signals& signals = ctx.signals();
  signals.Catch();
  const Format format = ctx.format();
  client::Discovery discovery(
      ctx.client(), f.service, {.on_change = [format](const client::InstanceChange& c) {
        const char* kind = c.kind == client::InstanceChange::Kind::kAdded     ? "ADDED"
                           : c.kind == client::InstanceChange::Kind::kUpdated ? "UPDATED"
                                                                              : "REMOVED";
        if (format == Format::kJson) {
          Emit(std::string("{\"event\":\"") + kind +
               "\",\"instance\":" + client::ToJson(c.instance) + "}\n");
        } else if (c.kind == client::InstanceChange::Kind::kRemoved) {
          Emit(std::string(kind) + " " + c.instance.service + ", " + c.instance.id + "\n");
        } else {
          Emit(std::string(kind) + " " + InstanceLine(c.instance));
        }
      }});
  signals.WaitUntil([&] { return signals.received() > 0; });
  return kExitOk;
}

}  // namespace

void AddServiceCommands(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<ServiceFlags>();
  auto* service = app.add_subcommand("service", "Service registry commands");
  service->require_subcommand(1);

  auto* reg = service->add_subcommand(
      "register", "Registers an instance and keeps it registered until SIGINT/SIGTERM");
  reg->add_option("service", f->service, "SERVICE")->required();
  reg->add_option("id", f->id, "instance ID")->required();
  reg->add_option("address", f->address, "ADDRESS:PORT")->required();
  reg->add_option("--weight", f->weight, "load-balancing weight")->capture_default_str();
  reg->add_option("--zone", f->zone, "zone");
  reg->add_option("--version", f->version, "version");
  reg->add_option("--meta", f->meta, "metadata key=value (repeatable)");
  reg->add_option("--ttl", f->ttl, "lease TTL in seconds")->capture_default_str();
  ctx.Register(reg, [&ctx, f] { return RunRegister(ctx, *f); });

  auto* dereg =
      service->add_subcommand("deregister", "Deletes an instance's record and revokes its lease");
  dereg->add_option("service", f->service, "SERVICE")->required();
  dereg->add_option("id", f->id, "instance ID")->required();
  ctx.Register(dereg, [&ctx, f] { return RunDeregister(ctx, *f); });

  auto* list = service->add_subcommand("list", "Lists the instances of SERVICE (or of all)");
  list->add_option("service", f->service, "SERVICE");
  ctx.Register(list, [&ctx, f] { return RunList(ctx, *f); });

  auto* watch = service->add_subcommand(
      "watch", "Prints ADDED/UPDATED/REMOVED instances of SERVICE until SIGINT/SIGTERM");
  watch->add_option("service", f->service, "SERVICE")->required();
  ctx.Register(watch, [&ctx, f] { return RunWatch(ctx, *f); });
}

}  // namespace pharos::pharosctl
