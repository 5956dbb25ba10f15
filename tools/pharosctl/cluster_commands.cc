// member list|add|remove|promote, endpoint status|health and move-leader: the cluster's
// membership and each member's health, in etcdctl's columns. Endpoint commands ask every
// endpoint on its own (pinned: no redirection to the leader), all at once.
#include <future>
#include <memory>
#include <thread>

#include "client/kv.h"
#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

struct MemberFlags {
  std::string name, id, peer_urls, client_urls;
  bool learner = false;
};

struct EndpointFlags {
  bool cluster = false;
  int64_t revision = 0;  // endpoint hashkv --rev
};

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// What a member list shows of one member, as etcdctl: unstarted until it has published itself.
std::vector<std::string> MemberRow(const pb::Member& m) {
  return {MemberHex(m.id()),
          m.name().empty() ? "unstarted" : "started",
          m.name(),
          Join(m.peer_urls()),
          Join(m.client_urls()),
          m.is_learner() ? "true" : "false"};
}

std::string SimpleRows(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (const auto& cell : row) line += (line.empty() ? "" : ", ") + cell;
    out += line + "\n";
  }
  return out;
}

Result<pb::Envelope> CallBody(Context& ctx, pb::Envelope request, client::CallOptions call = {}) {
  return ctx.client().Call(std::move(request), std::move(call));
}

Result<pb::MemberListResponse> MemberList(Context& ctx) {
  pb::Envelope e;
  e.mutable_member_list();
  auto r = CallBody(ctx, std::move(e));
  if (!r.ok()) return r.status();
  return r->member_list_response();
}

int RunMemberList(Context& ctx) {
  auto r = MemberList(ctx);
  if (!r.ok()) return Fail(r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(*r) + "\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : r->members()) rows.push_back(MemberRow(m));
  Emit(ctx.format() == Format::kTable
           ? Table({"ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"}, rows)
           : SimpleRows(rows));
  return kExitOk;
}

Result<std::vector<std::string>> AddressList(const std::string& flag, const std::string& list) {
  std::vector<std::string> out;
  if (list.empty()) return out;
  auto parsed = ParseEndpoints(list);
  if (!parsed.ok()) return Status::InvalidArgument(flag + ": " + parsed.status().message());
  return *parsed;
}

int RunMemberAdd(Context& ctx, const MemberFlags& f) {
  auto peers = AddressList("--peer-urls", f.peer_urls);
  if (!peers.ok()) return UsageError(peers.status().message());
  if (peers->empty()) return UsageError("member add needs --peer-urls");
  auto clients = AddressList("--client-urls", f.client_urls);
  if (!clients.ok()) return UsageError(clients.status().message());
  pb::Envelope e;
  auto* add = e.mutable_member_add();
  add->set_name(f.name);
  for (const auto& p : *peers) add->add_peer_urls(p);
  for (const auto& c : *clients) add->add_client_urls(c);
  add->set_is_learner(f.learner);
  auto r = CallBody(ctx, std::move(e));
  if (!r.ok()) return Fail(r.status());
  const auto& resp = r->member_add_response();
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(resp) + "\n");
    return kExitOk;
  }
  // The flags the new member starts with, since it joins a cluster that already exists.
  std::string initial;
  bool listed = false;
  for (const auto& m : resp.members()) {
    if (m.name().empty() || m.peer_urls().empty()) continue;
    listed = listed || m.id() == resp.member().id();
    initial += (initial.empty() ? "" : ",") + m.name() + "=" + m.peer_urls(0);
  }
  if (!listed) {
    initial += (initial.empty() ? "" : ",") + resp.member().name() + "=" + (*peers)[0];
  }
  std::string out = "Member " + MemberHex(resp.member().id()) + " added to cluster " +
                    MemberHex(resp.header().cluster_id()) +
                    "\n\nStart it with:\n  pharosd --name " + f.name + " --listen-peer " +
                    (*peers)[0];
  if (!clients->empty()) out += " --listen-client " + (*clients)[0];
  out += " --initial-cluster " + initial + " --initial-cluster-state existing\n";
  Emit(out);
  return kExitOk;
}

int RunMemberChange(Context& ctx, const MemberFlags& f, bool remove) {
  auto id = ParseMemberId(f.id);
  if (!id.ok()) return UsageError(id.status().message());
  pb::Envelope e;
  if (remove) {
    e.mutable_member_remove()->set_id(*id);
  } else {
    e.mutable_member_promote()->set_id(*id);
  }
  auto r = CallBody(ctx, std::move(e));
  if (!r.ok()) return Fail(r.status());
  const google::protobuf::Message& resp =
      remove ? static_cast<const google::protobuf::Message&>(r->member_remove_response())
             : r->member_promote_response();
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(resp) + "\n");
    return kExitOk;
  }
  const uint64_t cluster = remove ? r->member_remove_response().header().cluster_id()
                                  : r->member_promote_response().header().cluster_id();
  Emit("Member " + MemberHex(*id) + (remove ? " removed from" : " promoted in") + " cluster " +
       MemberHex(cluster) + "\n");
  return kExitOk;
}

// The endpoints an endpoint command covers: --endpoints, or with --cluster every member's
// client addresses.
Result<std::vector<std::string>> Targets(Context& ctx, const EndpointFlags& f) {
  return CommandTargets(ctx, f.cluster);
}

struct Probe {
  std::string endpoint;
  std::optional<pb::StatusResponse> status;
  Status error;
  milliseconds took{0};
  bool healthy = false;
};

// The status of each endpoint, asked of that member only, all in parallel. With `health`, then
// a linearizable read on each member that answered: served there, it needs the leader to confirm
// a quorum, so it proves the member and the cluster both work. The reads go one member at a
// time: pharosd names a ReadIndex by a per-member counter, so simultaneous reads on several
// members can share a name at the leader, and all but one then wait out the server's timeout.
std::vector<Probe> ProbeEach(Context& ctx, const std::vector<std::string>& endpoints, bool health) {
  client::Client& client = ctx.client();
  std::vector<std::future<Probe>> futures;
  for (const auto& ep : endpoints) {
    futures.push_back(std::async(std::launch::async, [&client, ep] {
      Probe p;
      p.endpoint = ep;
      const auto start = SteadyClock::now();
      pb::Envelope e;
      e.mutable_status_request();
      auto r = client.Call(std::move(e), {.endpoint = ep});
      if (r.ok()) {
        p.status = r->status_response();
      } else {
        p.error = r.status();
      }
      p.took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
      return p;
    }));
  }
  std::vector<Probe> out;
  for (auto& f : futures) out.push_back(f.get());
  for (auto& p : out) {
    if (health && p.status && p.status->leader() == 0) {
      p.error = Status::Unavailable("no leader known to this member");
    } else if (health && p.status) {
      const auto start = SteadyClock::now();
      auto read = client::KV(client).Get("health", {.count_only = true}, {.endpoint = p.endpoint});
      if (!read.ok()) p.error = read.status();
      p.took += std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
    }
    p.healthy = p.error.ok();
  }
  return out;
}

int RunEndpointStatus(Context& ctx, const EndpointFlags& f) {
  auto targets = Targets(ctx, f);
  if (!targets.ok()) return Fail(targets.status());
  const auto probes = ProbeEach(ctx, *targets, /*health=*/false);
  bool failed = false;
  std::vector<std::vector<std::string>> rows;
  std::string json = "[";
  for (const auto& p : probes) {
    if (!p.status) {
      failed = true;
      std::cerr << "Failed to get the status of endpoint " << p.endpoint << " ("
                << Describe(p.error) << ")" << std::endl;
      continue;
    }
    const auto& s = *p.status;
    rows.push_back({p.endpoint, MemberHex(s.header().member_id()), s.version(),
                    HumanBytes(s.db_size()), s.is_leader() ? "true" : "false",
                    s.is_learner() ? "true" : "false", std::to_string(s.raft_term()),
                    std::to_string(s.raft_index()), std::to_string(s.raft_applied_index())});
    json += std::string(json.size() > 1 ? "," : "") + "{\"Endpoint\":" + JsonQuote(p.endpoint) +
            ",\"Status\":" + ToJson(s) + "}";
  }
  if (ctx.format() == Format::kJson) {
    Emit(json + "]\n");
  } else if (ctx.format() == Format::kTable) {
    Emit(Table({"ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM",
                "RAFT INDEX", "RAFT APPLIED INDEX"},
               rows));
  } else {
    Emit(SimpleRows(rows));
  }
  return failed ? kExitError : kExitOk;
}

std::string Took(milliseconds took) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(took.count()));
  return buf;
}

int RunEndpointHealth(Context& ctx, const EndpointFlags& f) {
  auto targets = Targets(ctx, f);
  if (!targets.ok()) return Fail(targets.status());
  const auto probes = ProbeEach(ctx, *targets, /*health=*/true);
  bool unhealthy = false;
  std::vector<std::vector<std::string>> rows;
  std::string json = "[";
  std::string simple;
  for (const auto& p : probes) {
    unhealthy = unhealthy || !p.healthy;
    const std::string error = p.healthy ? "" : Describe(p.error);
    rows.push_back({p.endpoint, p.healthy ? "true" : "false", Took(p.took), error});
    json += std::string(json.size() > 1 ? "," : "") + "{\"endpoint\":" + JsonQuote(p.endpoint) +
            ",\"health\":" + (p.healthy ? "true" : "false") +
            ",\"took\":" + JsonQuote(Took(p.took)) +
            (p.healthy ? "" : ",\"error\":" + JsonQuote(error)) + "}";
    if (p.healthy) {
      simple += p.endpoint + " is healthy: took = " + Took(p.took) + "\n";
    } else {
      std::cerr << p.endpoint << " is unhealthy: " << error << std::endl;
    }
  }
  if (ctx.format() == Format::kJson) {
    Emit(json + "]\n");
  } else if (ctx.format() == Format::kTable) {
    Emit(Table({"ENDPOINT", "HEALTH", "TOOK", "ERROR"}, rows));
  } else {
    Emit(simple);
  }
  return unhealthy ? Fail("unhealthy cluster") : kExitOk;
}

// The leader as any member that answers sees it (0: unknown).
uint64_t LeaderSeen(Context& ctx) {
  pb::Envelope e;
  e.mutable_status_request();
  auto r = ctx.client().Call(std::move(e), {.timeout = milliseconds(500)});
  return r.ok() ? r->status_response().leader() : 0;
}

// The server answers once the transfer has started; like etcd's MoveLeader, this command
// returns only when the target leads (or the command timeout passes).
// Each member's hash of its history up to --rev (0: its current revision), as etcdctl's
// `endpoint hashkv`: members that agree hold the same state.
int RunEndpointHashKV(Context& ctx, const EndpointFlags& f) {
  auto targets = Targets(ctx, f);
  if (!targets.ok()) return Fail(targets.status());
  bool failed = false;
  std::vector<std::vector<std::string>> rows;
  std::string json = "[";
  for (const std::string& endpoint : *targets) {
    pb::Envelope e;
    e.mutable_hash_kv()->set_revision(f.revision);
    auto r = ctx.client().Call(std::move(e), {.endpoint = endpoint});
    if (!r.ok()) {
      failed = true;
      std::cerr << "Failed to get the hash of endpoint " << endpoint << " (" << Describe(r.status())
                << ")" << std::endl;
      continue;
    }
    const auto& h = r->hash_kv_response();
    rows.push_back({endpoint, std::to_string(h.hash())});
    json += std::string(json.size() > 1 ? "," : "") + "{\"Endpoint\":" + JsonQuote(endpoint) +
            ",\"HashKV\":" + ToJson(h) + "}";
  }
  if (ctx.format() == Format::kJson) {
    Emit(json + "]\n");
  } else if (ctx.format() == Format::kTable) {
    Emit(Table({"ENDPOINT", "HASH"}, rows));
  } else {
    Emit(SimpleRows(rows));
  }
  return failed ? kExitError : kExitOk;
}

int RunMoveLeader(Context& ctx, const std::string& hex) {
  auto target = ParseMemberId(hex);
  if (!target.ok()) return UsageError(target.status().message());
  const uint64_t before = LeaderSeen(ctx);
  if (before == *target) {
    Emit("Member " + MemberHex(*target) + " is already the leader\n");
    return kExitOk;
  }
  pb::Envelope e;
  e.mutable_move_leader()->set_targetid(*target);
  auto r = CallBody(ctx, std::move(e));
  if (!r.ok()) return Fail(r.status());
  const auto deadline = SteadyClock::now() + ctx.timeout();
  while (LeaderSeen(ctx) != *target) {
    if (SteadyClock::now() >= deadline) {
      return Fail("leadership transfer to " + MemberHex(*target) +
                  " did not complete within the command timeout");
    }
    // Polling the cluster's view of the leader: a transfer takes an election round or two.
    std::this_thread::sleep_for(milliseconds(20));
  }
  Emit(ctx.format() == Format::kJson ? ToJson(r->move_leader_response()) + "\n"
                                     : "Leadership transferred from " + MemberHex(before) + " to " +
                                           MemberHex(*target) + "\n");
  return kExitOk;
}

}  // namespace

Result<std::vector<std::string>> CommandTargets(Context& ctx, bool cluster) {
  if (!cluster) return ctx.endpoints();
  auto list = MemberList(ctx);
  if (!list.ok()) return list.status();
  std::vector<std::string> out;
  for (const auto& m : list->members()) {
    for (const auto& c : m.client_urls()) out.push_back(c);
  }
  return out;
}

void AddClusterCommands(CLI::App& app, Context& ctx) {
  auto mf = std::make_shared<MemberFlags>();
  auto* member = app.add_subcommand("member", "Membership commands");
  member->require_subcommand(1);
  auto* list = member->add_subcommand("list", "Lists the cluster's members");
  ctx.Register(list, [&ctx] { return RunMemberList(ctx); });
  auto* add = member->add_subcommand("add", "Adds a member (then start it with the flags shown)");
  add->add_option("name", mf->name, "NAME")->required();
  add->add_option("--peer-urls", mf->peer_urls, "the new member's peer address(es)")->required();
  add->add_option("--client-urls", mf->client_urls, "the new member's client address(es)");
  add->add_flag("--learner", mf->learner, "add as a non-voting learner");
  ctx.Register(add, [&ctx, mf] { return RunMemberAdd(ctx, *mf); });
  auto* remove = member->add_subcommand("remove", "Removes a member");
  remove->add_option("id", mf->id, "member id (hex)")->required();
  ctx.Register(remove, [&ctx, mf] { return RunMemberChange(ctx, *mf, /*remove=*/true); });
  auto* promote = member->add_subcommand("promote", "Promotes a learner to a voter");
  promote->add_option("id", mf->id, "member id (hex)")->required();
  ctx.Register(promote, [&ctx, mf] { return RunMemberChange(ctx, *mf, /*remove=*/false); });

  auto ef = std::make_shared<EndpointFlags>();
  auto* endpoint = app.add_subcommand("endpoint", "Endpoint commands");
  endpoint->require_subcommand(1);
  auto* status = endpoint->add_subcommand("status", "Shows each endpoint's status");
  status->add_flag("--cluster", ef->cluster, "every member's client address, from member list");
  ctx.Register(status, [&ctx, ef] { return RunEndpointStatus(ctx, *ef); });
  auto* health = endpoint->add_subcommand(
      "health", "Checks each endpoint: it answers, knows a leader and serves a linearizable read");
  health->add_flag("--cluster", ef->cluster, "every member's client address, from member list");
  ctx.Register(health, [&ctx, ef] { return RunEndpointHealth(ctx, *ef); });
  auto* hashkv = endpoint->add_subcommand(
      "hashkv", "Shows each endpoint's hash of its history (equal hashes: the same state)");
  hashkv->add_flag("--cluster", ef->cluster, "every member's client address, from member list");
  hashkv->add_option("--rev", ef->revision, "hash up to this revision (0: the current one)");
  ctx.Register(hashkv, [&ctx, ef] { return RunEndpointHashKV(ctx, *ef); });

  auto target = std::make_shared<std::string>();
  auto* move = app.add_subcommand("move-leader", "Transfers leadership to another member");
  move->add_option("id", *target, "member id (hex)")->required();
  ctx.Register(move, [&ctx, target] { return RunMoveLeader(ctx, *target); });
}

}  // namespace pharos::pharosctl
