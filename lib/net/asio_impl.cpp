// The one translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION is defined for
// every TU in the Makefile, so every other file only sees declarations).
//
// Beast is deliberately NOT compiled here: whoever first needs Beast adds its own single TU,
// e.g. lib/http/beast_impl.cpp with `#include <boost/beast/src.hpp>`
// (BOOST_BEAST_SEPARATE_COMPILATION is already defined globally), so programs that never use
// HTTP do not pay for it.
#include <boost/asio/impl/src.hpp>
