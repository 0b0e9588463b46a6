// Catch2 v2 main for the unit-test binary (tests/unit/<capability>/*_test.cpp).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
