// etcdctl's txn text format (see txn_parser.h).
#include "tools/pharosctl/txn_parser.h"

#include "tools/pharosctl/flags.h"

namespace pharos::pharosctl {
namespace {

using client::Compare;
using client::CompareOp;
using client::Op;

Status Bad(std::string m) { return Status::InvalidArgument(std::move(m)); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// The op line's flags, as etcdctl's put/get/del commands take them.
struct OpFlags {
  std::vector<std::string> positional;
  std::string lease;
  std::string limit, rev;
  bool prev_kv = false, prefix = false, from_key = false, keys_only = false, count_only = false;
};

Result<OpFlags> ParseOpFlags(const std::string& verb, const std::vector<std::string>& args) {
  OpFlags f;
  bool flags_done = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      f.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1), value;
    const bool has_value = name.find('=') != std::string::npos;
    if (has_value) {
      value = name.substr(name.find('=') + 1);
      name = name.substr(0, name.find('='));
    }
    auto take_value = [&](std::string& into) -> Status {
      if (has_value) {
        into = value;
      } else if (i + 1 < args.size()) {
        into = args[++i];
      } else {
        return Bad("flag --" + name + " of " + verb + " needs a value");
      }
      return Status::Ok();
    };
    auto boolean = [&](bool& into) -> Status {
      if (!has_value || value == "true") {
        into = true;
      } else if (value == "false") {
        into = false;
      } else {
        return Bad("flag --" + name + " of " + verb + " is true or false");
      }
      return Status::Ok();
    };
    Status s = Bad("unknown flag " + a + " for " + verb);
    if (verb == "put" && name == "lease") {
      s = take_value(f.lease);
    } else if ((verb == "put" || verb == "del") && name == "prev-kv") {
      s = boolean(f.prev_kv);
    } else if ((verb == "get" || verb == "del") && name == "prefix") {
      s = boolean(f.prefix);
    } else if ((verb == "get" || verb == "del") && name == "from-key") {
      s = boolean(f.from_key);
    } else if (verb == "get" && name == "keys-only") {
      s = boolean(f.keys_only);
    } else if (verb == "get" && name == "count-only") {
      s = boolean(f.count_only);
    } else if (verb == "get" && name == "limit") {
      s = take_value(f.limit);
    } else if (verb == "get" && name == "rev") {
      s = take_value(f.rev);
    }
    if (!s.ok()) return s;
  }
  return f;
}

// The range end of a get/del: RANGE_END, --prefix or --from-key, one at most (etcdctl's rule).
Status CheckRange(const std::string& verb, const OpFlags& f) {
  if (f.positional.empty() || f.positional.size() > 2) {
    return Bad(verb + " takes KEY [RANGE_END]");
  }
  if (f.prefix && f.from_key) return Bad(verb + ": --prefix and --from-key exclude each other");
  if ((f.prefix || f.from_key) && f.positional.size() == 2) {
    return Bad(verb + ": RANGE_END cannot be combined with --prefix or --from-key");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ParseQuoted(std::string_view& text) {
  if (text.empty() || (text.front() != '"' && text.front() != '`')) {
    return Bad("expected a quoted string at '" + std::string(text) + "'");
  }
  if (text.front() == '`') {
    const size_t end = text.find('`', 1);
    if (end == std::string_view::npos) return Bad("unterminated `raw string`");
    std::string out(text.substr(1, end - 1));
    text.remove_prefix(end + 1);
    return out;
  }
  std::string out;
  size_t i = 1;
  for (;;) {
    if (i >= text.size()) return Bad("unterminated quoted string");
    const char c = text[i++];
    if (c == '"') break;
    if (c == '\n') return Bad("newline in quoted string");
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i >= text.size()) return Bad("unterminated quoted string");
    const char e = text[i++];
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case '\'':
        out += '\'';
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + digits > text.size()) return Bad("short \\" + std::string(1, e) + " escape");
        uint32_t v = 0;
        for (size_t k = 0; k < digits; ++k) {
          const int h = HexValue(text[i + k]);
          if (h < 0) return Bad("bad \\" + std::string(1, e) + " escape");
          v = (v << 4) | static_cast<uint32_t>(h);
        }
        i += digits;
        if (e == 'x') {
          out += static_cast<char>(v);
        } else {
          if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return Bad("bad unicode escape");
          AppendUtf8(out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {  // \ooo: exactly three octal digits, as Go
          if (i + 2 > text.size()) return Bad("short octal escape");
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (size_t k = 0; k < 2; ++k) {
            const char o = text[i + k];
            if (o < '0' || o > '7') return Bad("bad octal escape");
            v = v * 8 + static_cast<uint32_t>(o - '0');
          }
          if (v > 255) return Bad("octal escape out of range");
          i += 2;
          out += static_cast<char>(v);
          break;
        }
        return Bad("unknown escape \\" + std::string(1, e));
    }
  }
  text.remove_prefix(i);
  return out;
}

Result<std::vector<std::string>> SplitArgs(std::string_view line) {
  std::vector<std::string> args;
  for (;;) {
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    if (line.empty()) return args;
    if (line.front() == '"') {
      auto q = ParseQuoted(line);
      if (!q.ok()) return q.status();
      args.push_back(std::move(*q));
    } else if (line.front() == '\'') {
      const size_t end = line.find('\'', 1);
      if (end == std::string_view::npos) return Bad("unterminated 'single-quoted' argument");
      args.emplace_back(line.substr(1, end - 1));
      line.remove_prefix(end + 1);
    } else {
      size_t end = 0;
      while (end < line.size() && !IsSpace(line[end])) ++end;
      args.emplace_back(line.substr(0, end));
      line.remove_prefix(end);
      continue;
    }
    // A quoted argument must stand alone ("a"b is two mistakes, not one word).
    if (!line.empty() && !IsSpace(line.front())) {
      return Bad("a quoted argument must be followed by a space");
    }
  }
}

Result<Compare> ParseCompare(std::string_view line) {
  const std::string original(Trim(line));
  std::string_view rest = Trim(line);
  auto malformed = [&](const std::string& why) {
    return Bad("malformed comparison: " + original + " (" + why + ")");
  };
  const size_t paren = rest.find('(');
  if (paren == std::string_view::npos) return malformed("expected target(\"key\")");
  const std::string target(Trim(rest.substr(0, paren)));
  rest.remove_prefix(paren + 1);
  rest = Trim(rest);
  auto key = ParseQuoted(rest);
  if (!key.ok()) return malformed(key.status().message());
  rest = Trim(rest);
  if (rest.empty() || rest.front() != ')') return malformed("expected ')' after the key");
  rest.remove_prefix(1);
  rest = Trim(rest);
  size_t op_len = 0;
  while (op_len < rest.size() && !IsSpace(rest[op_len]) && rest[op_len] != '"') ++op_len;
  const std::string_view op_text = rest.substr(0, op_len);
  rest = Trim(rest.substr(op_len));
  CompareOp op;
  if (op_text == "=" || op_text == "==") {
    op = CompareOp::kEqual;
  } else if (op_text == "!=") {
    op = CompareOp::kNotEqual;
  } else if (op_text == "<") {
    op = CompareOp::kLess;
  } else if (op_text == ">") {
    op = CompareOp::kGreater;
  } else {
    return malformed("unknown operator '" + std::string(op_text) + "'; use = != < >");
  }
  auto operand = ParseQuoted(rest);
  if (!operand.ok()) return malformed(operand.status().message());
  if (!Trim(rest).empty()) return malformed("unexpected '" + std::string(Trim(rest)) + "'");

  auto number = [&]() -> Result<int64_t> { return ParseInt(*operand, /*allow_negative=*/true); };
  if (target == "value" || target == "val") return Compare::Value(*key, op, *operand);
  if (target == "lease") {
    auto id = ParseLeaseId(*operand);
    if (!id.ok()) return malformed(id.status().message());
    return Compare::Lease(*key, op, *id);
  }
  auto n = number();
  if (target == "version" || target == "ver" || target == "create" || target == "c" ||
      target == "mod" || target == "m") {
    if (!n.ok()) return malformed(n.status().message());
  }
  if (target == "version" || target == "ver") return Compare::Version(*key, op, *n);
  if (target == "create" || target == "c") return Compare::CreateRevision(*key, op, *n);
  if (target == "mod" || target == "m") return Compare::ModRevision(*key, op, *n);
  return malformed("unknown target '" + target + "'; use value, version, create, mod or lease");
}

Result<Op> ParseOp(std::string_view line) {
  const std::string original(Trim(line));
  auto args = SplitArgs(line);
  if (!args.ok())
    return Bad("invalid txn request: " + original + " (" + args.status().message() + ")");
  if (args->empty()) return Bad("invalid txn request: empty line");
  const std::string verb = (*args)[0];
  if (verb != "put" && verb != "get" && verb != "del") {
    return Bad("invalid txn request: " + original + " (ops are put, get and del)");
  }
  auto f = ParseOpFlags(verb, *args);
  auto invalid = [&](const Status& s) {
    return Bad("invalid txn request: " + original + " (" + s.message() + ")");
  };
  if (!f.ok()) return invalid(f.status());
  if (verb == "put") {
    if (f->positional.size() != 2) return invalid(Bad("put takes KEY VALUE"));
    client::PutOptions o{.prev_kv = f->prev_kv};
    if (!f->lease.empty()) {
      auto id = ParseLeaseId(f->lease);
      if (!id.ok()) return invalid(id.status());
      o.lease = *id;
    }
    return Op::Put(f->positional[0], f->positional[1], o);
  }
  if (Status s = CheckRange(verb, *f); !s.ok()) return invalid(s);
  const std::string range_end = f->positional.size() == 2 ? f->positional[1] : "";
  if (verb == "del") {
    return Op::Delete(f->positional[0], {.range_end = range_end,
                                         .prefix = f->prefix,
                                         .from_key = f->from_key,
                                         .prev_kv = f->prev_kv});
  }
  client::GetOptions o{.range_end = range_end,
                       .prefix = f->prefix,
                       .from_key = f->from_key,
                       .keys_only = f->keys_only,
                       .count_only = f->count_only};
  if (!f->limit.empty()) {
    auto n = ParseInt(f->limit);
    if (!n.ok()) return invalid(n.status());
    o.limit = *n;
  }
  if (!f->rev.empty()) {
    auto n = ParseInt(f->rev);
    if (!n.ok()) return invalid(n.status());
    o.revision = *n;
  }
  return Op::Get(f->positional[0], o);
}

Result<client::Txn> ParseTxn(std::istream& in, std::ostream* prompts) {
  client::Txn txn;
  const char* const kSections[] = {
      "compares:", "success requests (get, put, del):", "failure requests (get, put, del):"};
  const char* const kNames[] = {"compares", "success requests", "failure requests"};
  for (int section = 0; section < 3; ++section) {
    if (prompts) *prompts << kSections[section] << std::endl;
    std::string line;
    for (;;) {
      // As etcdctl: every section, the last included, ends with an empty line. A script that
      // ends sooner, or mid-line, was cut short (its producer died, a pipe broke) and must not
      // be committed as if it were whole.
      if (!std::getline(in, line) || in.eof()) {
        return Bad("unexpected end of input in the " + std::string(kNames[section]) +
                   " section: each of the three sections (compares, success requests, failure "
                   "requests) must end with an empty line");
      }
      if (Trim(line).empty()) break;
      if (section == 0) {
        auto c = ParseCompare(line);
        if (!c.ok()) return c.status();
        txn.If(*c);
      } else {
        auto op = ParseOp(line);
        if (!op.ok()) return op.status();
        if (section == 1) {
          txn.Then(*op);
        } else {
          txn.Else(*op);
        }
      }
    }
    if (prompts && section < 2) *prompts << std::endl;
  }
  return txn;
}

}  // namespace pharos::pharosctl
