#ifndef CUSTOS_COPENSSL_SHIM_H
#define CUSTOS_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/* OPENSSL_free is a function-like macro that Swift does not import. */
static inline void custos_openssl_free(void *pointer) { OPENSSL_free(pointer); }
#endif
