#include "jepsen/history_recorder.h"

#include <cerrno>
#include <chrono>
#include <cstring>

namespace pharos::jepsen {
namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

HistoryRecorder::HistoryRecorder(const std::string& path)
    : path_(path), start_ns_(SteadyNs()), file_(std::fopen(path.c_str(), "w")) {
  if (!file_) NoteErrorLocked("could not create", errno);
}

HistoryRecorder::~HistoryRecorder() {
  if (file_) std::fclose(file_);
}

int64_t HistoryRecorder::Now() const { return SteadyNs() - start_ns_; }

int64_t HistoryRecorder::Invoke(int process, const std::string& f, const std::string& key,
                                const std::string& value_json) {
  std::lock_guard lock(mu_);
  const int64_t t = Now();
  Write(process, "invoke", f, key, value_json, t);
  return t;
}

void HistoryRecorder::Complete(int process, const std::string& type, const std::string& f,
                               const std::string& key, const std::string& value_json,
                               int64_t invoked_at) {
  std::lock_guard lock(mu_);
  const int64_t t = Now();
  Write(process, type, f, key, value_json, t);
  completed_.push_back({invoked_at, t, type, f});
}

void HistoryRecorder::Observe(int process, const std::string& f, const std::string& key,
                              const std::string& value_json) {
  std::lock_guard lock(mu_);
  Write(process, "ok", f, key, value_json, Now());
}

void HistoryRecorder::Note(const std::string& type, const std::string& f, int64_t invoked_at) {
  std::lock_guard lock(mu_);
  completed_.push_back({invoked_at, Now(), type, f});
}

Status HistoryRecorder::Flush() {
  std::lock_guard lock(mu_);
  // ferror too: a failed write inside an earlier fprintf need not fail this fflush.
  if (file_ && (std::fflush(file_) != 0 || std::ferror(file_))) {
    NoteErrorLocked("could not write", errno);
  }
  return error_.empty() ? Status::Ok() : Status::IoError(error_);
}

std::vector<Completed> HistoryRecorder::completed() const {
  std::lock_guard lock(mu_);
  return completed_;
}

// Under mu_: the time is taken and the line written in one step, so the file is in time order.
void HistoryRecorder::Write(int process, const std::string& type, const std::string& f,
                            const std::string& key, const std::string& value_json, int64_t time) {
  if (!file_) return;  // the error was noted when the file could not be created
  const int written = std::fprintf(
      file_,
      "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\",\"key\":%s,\"value\":%s,\"time\":%lld}\n",
      process, type.c_str(), f.c_str(), JsonString(key).c_str(), value_json.c_str(),
      static_cast<long long>(time));
  if (written < 0) NoteErrorLocked("could not write", errno);
}

// Under mu_ (or in the constructor): only the first error is kept; later ones follow from it.
void HistoryRecorder::NoteErrorLocked(const char* what, int error_number) {
  if (error_.empty()) error_ = std::string(what) + " " + path_ + ": " + std::strerror(error_number);
}

}  // namespace pharos::jepsen
