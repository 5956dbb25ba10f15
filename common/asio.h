// The one way our .cc files include Boost.Asio. Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>, so <utility> comes first. Never include this from a header that
// many files include: Asio is heavy to compile.
#pragma once

// clang-format would sort Boost first again; keep this order.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
