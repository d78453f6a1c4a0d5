/* TEMPORARY placeholder. */
#include "toolgate.h"
