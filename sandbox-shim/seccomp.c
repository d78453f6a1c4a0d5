/* TEMPORARY placeholder: the sandbox work replaces this file. */
#include "sandbox.h"
