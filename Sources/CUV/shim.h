#ifndef SUPERVISOR_CUV_SHIM_H
#define SUPERVISOR_CUV_SHIM_H
#include <uv.h>
#endif
