// Moved: jwt lives in lib/pki now (pki/jwt.h), which ends the pki <-> jwt folder cycle. This
// forward stays only until lib/edge/detail/access.h includes "pki/jwt.h"; then delete lib/jwt.
#pragma once

#include "pki/jwt.h"
