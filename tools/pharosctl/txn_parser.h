// TxnParser: etcdctl's txn text, so scripts written for `etcdctl txn` work unchanged. Three
// sections, each ended by a blank line: compares, the ops run on success, the ops run on failure.
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

// Reads the three sections from `in`. Each ends at a blank line — the failure section too, as
// etcdctl's: the end of the input before that, or in the middle of a line, is an error (a script
// cut short is refused, not committed). What follows the third blank line is not read. With
// `prompts`, each section is announced there first, as `etcdctl txn -i` does.
Result<client::Txn> ParseTxn(std::istream& in, std::ostream* prompts = nullptr);

}  // namespace pharos::pharosctl
