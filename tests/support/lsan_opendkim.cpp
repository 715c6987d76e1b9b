// tests/support/lsan_opendkim.cpp — linked into the test programs that sign with
// dkim::Signer. libopendkim 2.11.0~beta2 never frees the private key that
// dkim_privkey_load() builds while signing (one EVP_PKEY and its wrapper per signer;
// LeakSanitizer shows them under dkim_privkey_load, from dkim_eom). Verification does
// not leak (the fuzz replay of tests/fuzz/dkim_verify runs clean). The suppression is
// for exactly that function; the slow unwinder is needed so that frames inside
// libcrypto (no frame pointers) still reach it. Only these sanitizer hooks are here.
extern "C" const char* __lsan_default_suppressions() { return "leak:dkim_privkey_load\n"; }
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }
