#ifndef CUSTOS_CZSTD_SHIM_H
#define CUSTOS_CZSTD_SHIM_H
#include <zstd.h>

/* ZSTD_COMPRESSBOUND is a macro; ZSTD_compressBound is the function. Nothing else to wrap. */
#endif
