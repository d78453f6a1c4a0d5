/* TEMPORARY placeholder. */
#include "sanitize.h"
