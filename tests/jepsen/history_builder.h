// Writes small histories for tests in the harness's JSON-lines format, one event per call, with
// times 10, 20, 30, ... so that a test reads as the timeline it describes.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "jepsen/history.h"

namespace pharos::jepsen {

class HistoryBuilder {
 public:
  using json = nlohmann::json;

  HistoryBuilder& Invoke(int64_t process, const std::string& f, json value,
                         const std::string& key = "x") {
    return Event(process, "invoke", f, std::move(value), key);
  }
  HistoryBuilder& Ok(int64_t process, const std::string& f, json value,
                     const std::string& key = "x") {
    return Event(process, "ok", f, std::move(value), key);
  }
  HistoryBuilder& Fail(int64_t process, const std::string& f, json value,
                       const std::string& key = "x") {
    return Event(process, "fail", f, std::move(value), key);
  }
  HistoryBuilder& Info(int64_t process, const std::string& f, json value,
                       const std::string& key = "x") {
    return Event(process, "info", f, std::move(value), key);
  }
  // An op that completes before anything else happens.
  HistoryBuilder& Op(int64_t process, const std::string& f, json invoke_value, json ok_value,
                     const std::string& key = "x") {
    Invoke(process, f, std::move(invoke_value), key);
    return Ok(process, f, std::move(ok_value), key);
  }
  HistoryBuilder& Write(int64_t process, json value, const std::string& key = "x") {
    return Op(process, "write", value, value, key);
  }
  HistoryBuilder& Read(int64_t process, json value, const std::string& key = "x") {
    return Op(process, "read", nullptr, std::move(value), key);
  }
  HistoryBuilder& Append(int64_t process, json value, const std::string& key = "x") {
    return Op(process, "append", value, value, key);
  }

  const std::string& Text() const { return text_; }

  History Build() const {
    std::istringstream in(text_);
    Result<History> h = ReadHistory(in);
    EXPECT_TRUE(h.ok()) << h.status().ToString() << "\n" << text_;
    return h.ok() ? *h : History{};
  }

 private:
  HistoryBuilder& Event(int64_t process, const std::string& type, const std::string& f, json value,
                        const std::string& key) {
    time_ += 10;
    json j = {{"process", process}, {"type", type},   {"f", f},
              {"key", key},         {"value", value}, {"time", time_}};
    text_ += j.dump() + "\n";
    return *this;
  }

  std::string text_;
  int64_t time_ = 0;
};

}  // namespace pharos::jepsen
