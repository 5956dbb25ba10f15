// The one way our .cc files include Boost.Asio. Boost 1.74's awaitable.hpp uses std::exchange
// without including <utility>, so <utility> comes first. Never include this from a header that
// many files include: Asio is heavy to compile.
#pragma once

#include <boost/asio.hpp>
#include <utility>
