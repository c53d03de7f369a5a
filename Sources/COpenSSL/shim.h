#ifndef CUSTOS_COPENSSL_SHIM_H
#define CUSTOS_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/ts.h>
#include <openssl/cms.h>

/* OPENSSL_free is a function-like macro that Swift does not import. */
static inline void custos_openssl_free(void *pointer) { OPENSSL_free(pointer); }

/* The bytes a memory BIO holds (BIO_get_mem_data is a macro). */
static inline long custos_bio_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/* STACK_OF(X509): the stack macros are not imported. */
static inline STACK_OF(X509) *custos_x509_stack_new(void) { return sk_X509_new_null(); }
static inline int custos_x509_stack_push(STACK_OF(X509) *stack, X509 *certificate) {
    return sk_X509_push(stack, certificate);
}
static inline int custos_x509_stack_count(const STACK_OF(X509) *stack) { return sk_X509_num(stack); }
static inline X509 *custos_x509_stack_value(const STACK_OF(X509) *stack, int index) {
    return sk_X509_value(stack, index);
}
/* Frees the stack only (its certificates belong to someone else). */
static inline void custos_x509_stack_free_shallow(STACK_OF(X509) *stack) { sk_X509_free(stack); }
/* Frees the stack and drops one reference to each certificate in it. */
static inline void custos_x509_stack_free_all(STACK_OF(X509) *stack) { sk_X509_pop_free(stack, X509_free); }
/* A name as one RFC 2253 line, UTF-8 kept (XN_FLAG_RFC2253 is a compound macro). */
static inline int custos_print_name(BIO *bio, const X509_NAME *name) {
    return X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
}
#endif
