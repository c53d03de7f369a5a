#ifndef CUSTOS_CARCHIVE_SHIM_H
#define CUSTOS_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

/* AE_IFREG is a cast macro that Swift does not import. */
static inline unsigned int custos_archive_ifreg(void) { return (unsigned int)AE_IFREG; }
#endif
