// get, put, del, txn and compaction: the key-value commands, as etcdctl prints them.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "client/kv.h"
#include "tools/pharosctl/context.h"
#include "tools/pharosctl/flags.h"
#include "tools/pharosctl/txn_parser.h"

namespace pharos::pharosctl {
namespace {

struct GetFlags {
  std::string key, range_end, consistency = "l";
  bool prefix = false, from_key = false, keys_only = false, count_only = false,
       print_value_only = false;
  int64_t rev = 0, limit = 0;
};

struct PutFlags {
  std::string key, value, lease;
  bool prev_kv = false;
};

struct DelFlags {
  std::string key, range_end;
  bool prefix = false, from_key = false, prev_kv = false;
};

std::string SimpleGet(const pb::RangeResponse& r, KvPrint how) {
  std::string out;
  for (const auto& kv : r.kvs()) out += SimpleKv(kv, how);
  return out;
}

std::string SimplePut(const pb::PutResponse& r) {
  std::string out = "OK\n";
  if (r.has_prev_kv()) out += SimpleKv(r.prev_kv());
  return out;
}

std::string SimpleDelete(const pb::DeleteRangeResponse& r) {
  std::string out = std::to_string(r.deleted()) + "\n";
  for (const auto& kv : r.prev_kvs()) out += SimpleKv(kv);
  return out;
}

int RunGet(Context& ctx, const GetFlags& f) {
  if (Status s = CheckRangeEnd(f.range_end, f.prefix, f.from_key); !s.ok()) {
    return UsageError(s.message());
  }
  if (f.consistency != "l" && f.consistency != "s") {
    return UsageError("--consistency is l (linearizable) or s (serializable)");
  }
  if (f.rev < 0 || f.limit < 0) return UsageError("--rev and --limit must not be negative");
  client::KV kv(ctx.client());
  auto r = kv.Get(f.key, {.range_end = f.range_end,
                          .prefix = f.prefix,
                          .from_key = f.from_key,
                          .revision = f.rev,
                          .limit = f.limit,
                          .keys_only = f.keys_only,
                          .count_only = f.count_only,
                          .serializable = f.consistency == "s"});
  if (!r.ok()) return Fail(r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(*r) + "\n");
  } else if (f.count_only) {
    Emit(std::to_string(r->count()) + "\n");
  } else {
    Emit(SimpleGet(*r, {.keys_only = f.keys_only, .value_only = f.print_value_only}));
  }
  return kExitOk;
}

int RunPut(Context& ctx, const PutFlags& f, bool value_given) {
  std::string value = f.value;
  if (!value_given) {
    // etcdctl's habit: no VALUE argument, the value is all of stdin, byte for byte.
    auto from_stdin = ReadValueFromStdin(STDIN_FILENO);
    if (!from_stdin.ok()) return UsageError(from_stdin.status().message());
    value = std::move(*from_stdin);
  }
  client::PutOptions options{.prev_kv = f.prev_kv};
  if (!f.lease.empty()) {
    auto id = ParseLeaseId(f.lease);
    if (!id.ok()) return UsageError("--lease: " + id.status().message());
    options.lease = *id;
  }
  client::KV kv(ctx.client());
  auto r = kv.Put(f.key, value, options);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kLeaseNotFound) {
      return Fail("lease " + LeaseHex(options.lease) + " not found");
    }
    return Fail(r.status());
  }
  Emit(ctx.format() == Format::kJson ? ToJson(*r) + "\n" : SimplePut(*r));
  return kExitOk;
}

int RunDel(Context& ctx, const DelFlags& f) {
  if (Status s = CheckRangeEnd(f.range_end, f.prefix, f.from_key); !s.ok()) {
    return UsageError(s.message());
  }
  client::KV kv(ctx.client());
  auto r = kv.Delete(
      f.key,
      {.range_end = f.range_end, .prefix = f.prefix, .from_key = f.from_key, .prev_kv = f.prev_kv});
  if (!r.ok()) return Fail(r.status());
  Emit(ctx.format() == Format::kJson ? ToJson(*r) + "\n" : SimpleDelete(*r));
  return kExitOk;
}

int RunTxn(Context& ctx, bool interactive) {
  auto txn = ParseTxn(std::cin, interactive ? &std::cout : nullptr);
  if (!txn.ok()) return UsageError(txn.status().message());
  client::KV kv(ctx.client());
  auto r = kv.Commit(*txn);
  if (!r.ok()) return Fail(r.status());
  if (ctx.format() == Format::kJson) {
    Emit(ToJson(*r) + "\n");
    return kExitOk;
  }
  // As etcdctl: the branch taken, then each op's result after a blank line.
  std::string out = r->succeeded() ? "SUCCESS\n" : "FAILURE\n";
  for (const auto& op : r->responses()) {
    out += "\n";
    if (op.has_response_put()) {
      out += SimplePut(op.response_put());
    } else if (op.has_response_delete_range()) {
      out += SimpleDelete(op.response_delete_range());
    } else if (op.has_response_range()) {
      out += SimpleGet(op.response_range(), {});
    }
  }
  Emit(out);
  return kExitOk;
}

int RunCompaction(Context& ctx, int64_t revision) {
  if (revision <= 0) return UsageError("REVISION must be positive");
  client::KV kv(ctx.client());
  auto r = kv.Compact(revision);
  if (!r.ok()) return Fail(r.status());
  Emit(ctx.format() == Format::kJson ? ToJson(*r) + "\n"
                                     : "compacted revision " + std::to_string(revision) + "\n");
  return kExitOk;
}

}  // namespace

void AddKvCommands(CLI::App& app, Context& ctx) {
  auto get = std::make_shared<GetFlags>();
  auto* g = app.add_subcommand("get", "Gets the key or a range of keys");
  g->add_option("key", get->key, "KEY")->required();
  g->add_option("range_end", get->range_end, "RANGE_END: the range is [KEY, RANGE_END)");
  g->add_flag("--prefix", get->prefix, "every key with the prefix KEY");
  g->add_flag("--from-key", get->from_key, "every key >= KEY");
  g->add_option("--rev", get->rev, "the revision to read at (0: now)");
  g->add_option("--limit", get->limit, "at most this many keys (0: no limit)");
  g->add_flag("--keys-only", get->keys_only, "keys without values");
  g->add_flag("--count-only", get->count_only, "only the number of keys");
  g->add_flag("--print-value-only", get->print_value_only, "values without keys");
  g->add_option("--consistency", get->consistency, "l (linearizable) or s (serializable)")
      ->capture_default_str();
  ctx.Register(g, [&ctx, get] { return RunGet(ctx, *get); });

  auto put = std::make_shared<PutFlags>();
  auto* p = app.add_subcommand("put", "Puts the key; the value is read from stdin if omitted");
  p->add_option("key", put->key, "KEY")->required();
  auto* value = p->add_option("value", put->value, "VALUE");
  p->add_option("--lease", put->lease, "attach the key to this lease (hex id)");
  p->add_flag("--prev-kv", put->prev_kv, "print the previous key-value");
  ctx.Register(p, [&ctx, put, value] { return RunPut(ctx, *put, value->count() > 0); });

  auto del = std::make_shared<DelFlags>();
  auto* d = app.add_subcommand("del", "Deletes the key or a range of keys");
  d->add_option("key", del->key, "KEY")->required();
  d->add_option("range_end", del->range_end, "RANGE_END: the range is [KEY, RANGE_END)");
  d->add_flag("--prefix", del->prefix, "every key with the prefix KEY");
  d->add_flag("--from-key", del->from_key, "every key >= KEY");
  d->add_flag("--prev-kv", del->prev_kv, "print the deleted key-values");
  ctx.Register(d, [&ctx, del] { return RunDel(ctx, *del); });

  auto interactive = std::make_shared<bool>(false);
  auto* t = app.add_subcommand(
      "txn",
      "Runs a transaction read from stdin: compares, blank line, success ops, blank line, "
      "failure ops, blank line");
  t->add_flag("-i,--interactive", *interactive, "prompt for each section");
  ctx.Register(t, [&ctx, interactive] { return RunTxn(ctx, *interactive); });

  auto revision = std::make_shared<int64_t>(0);
  auto* c = app.add_subcommand("compaction", "Discards the key-value history before REVISION");
  c->add_option("revision", *revision, "REVISION")->required();
  ctx.Register(c, [&ctx, revision] { return RunCompaction(ctx, *revision); });
}

}  // namespace pharos::pharosctl
