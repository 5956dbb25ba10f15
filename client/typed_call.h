// Typed calls: send an envelope through Client and hand back the one response message a
// field accessor picks out of the reply. Internal to client/ (KV, Lease, recipes).
#pragma once

#include <functional>
#include <future>

#include "client/client.h"

namespace pharos::client {

template <typename T, typename Field>
void TypedCallAsync(Client& client, pb::Envelope request, CallOptions call, Field field,
                    std::function<void(Result<T>)> done) {
  client.CallAsync(std::move(request), std::move(call),
                   [field, done = std::move(done)](Result<pb::Envelope> r) {
                     if (!r.ok()) return done(r.status());
                     done(T(std::move(*field(*r))));
                   });
}

template <typename T, typename Field>
Result<T> TypedCall(Client& client, pb::Envelope request, CallOptions call, Field field) {
  if (client.OnIoThread()) {
    return Status::FailedPrecondition("a blocking call from a client callback would deadlock");
  }
  std::promise<Result<T>> result;
  TypedCallAsync<T>(client, std::move(request), std::move(call), field,
                    [&result](Result<T> r) { result.set_value(std::move(r)); });
  return result.get_future().get();
}

}  // namespace pharos::client
