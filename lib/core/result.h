// core::Result<T> — boost::system::result with core::Error as the error type.
#pragma once

#include <boost/system/result.hpp>

#include "core/error.h"

namespace core {

template <class T>
using Result = boost::system::result<T, Error>;

// Unwrap a Result inside a function that itself returns a Result.
#define WARREN_TRY(var, expr)                 \
  auto var##_res_ = (expr);                   \
  if (!var##_res_) return var##_res_.error(); \
  auto var = std::move(*var##_res_)

#define WARREN_CHECK(expr)                                    \
  do {                                                        \
    auto warren_check_res_ = (expr);                          \
    if (!warren_check_res_) return warren_check_res_.error(); \
  } while (0)

}  // namespace core
