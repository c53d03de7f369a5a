#ifndef CUSTOS_CPANGOCAIRO_SHIM_H
#define CUSTOS_CPANGOCAIRO_SHIM_H
#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

/* Nothing to wrap: pango and cairo import directly (PANGO_SCALE as a constant). */

#endif
