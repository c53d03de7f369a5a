#ifndef CUSTOS_CPANGOCAIRO_SHIM_H
#define CUSTOS_CPANGOCAIRO_SHIM_H
#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

/* PANGO_SCALE is a macro Swift imports as a plain Int32 constant; named here for clarity. */
static inline int custos_pango_scale(void) { return PANGO_SCALE; }

#endif
