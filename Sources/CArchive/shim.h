#ifndef CUSTOS_CARCHIVE_SHIM_H
#define CUSTOS_CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>

/* AE_IFREG is a cast macro that Swift does not import. */
static inline unsigned int custos_archive_ifreg(void) { return (unsigned int)AE_IFREG; }
/* archive_set_error is variadic, which Swift cannot call. */
static inline void custos_archive_set_error(struct archive *a, int error_number, const char *message) {
    archive_set_error(a, error_number, "%s", message);
}
#endif
