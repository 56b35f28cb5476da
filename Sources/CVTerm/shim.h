#ifndef SUPERVISOR_CVTERM_SHIM_H
#define SUPERVISOR_CVTERM_SHIM_H
#include <vterm.h>
#endif
