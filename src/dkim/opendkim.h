// dkim/opendkim.h — the one place libopendkim's header is included (private to dkim/).
// dkim.h is a C header that uses C99 `_Bool` without <stdbool.h> under C++; C's _Bool
// and C++'s bool have the same representation in the x86-64 and AArch64 ABIs.
#pragma once

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
