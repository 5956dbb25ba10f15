// TxnParser: etcdctl's txn text, so scripts written for `etcdctl txn` work unchanged. Three
// sections separated by blank lines: compares, the ops run on success, the ops run on failure.
//   mod("k") > "0"           compare: value|val, version|ver, create|c, mod|m, lease
//   value("k") = "v"         ops: = != < >; the key and the operand are Go-quoted strings;
//                            lease operands are lease ids in hex
//
//   put k "new value"        ops: etcdctl's put/get/del with their flags (--lease=HEX,
//   get --prefix k           --prev-kv, --prefix, --from-key, --limit=N, --rev=N, --keys-only,
//                            --count-only); arguments may be "double" (Go escapes) or 'single'
//   del k                    quoted
// Pure functions over text (tests/tools/txn_parser_test.cc); no thread rules.
#pragma once

#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "client/txn.h"
#include "common/result.h"

namespace pharos::pharosctl {

// Splits an op line into arguments as etcdctl's Argify does: whitespace-separated words,
// "double-quoted" with Go escapes, or 'single-quoted' verbatim.
Result<std::vector<std::string>> SplitArgs(std::string_view line);

// A Go quoted string ("..." with escapes, or `raw`) at the start of `text`; `text` is advanced
// past it.
Result<std::string> ParseQuoted(std::string_view& text);

Result<client::Compare> ParseCompare(std::string_view line);
Result<client::Op> ParseOp(std::string_view line);

// Reads the three sections from `in`. A section ends at a blank line or at the end of the input.
// With `prompts`, each section is announced there first, as `etcdctl txn -i` does.
Result<client::Txn> ParseTxn(std::istream& in, std::ostream* prompts = nullptr);

}  // namespace pharos::pharosctl
