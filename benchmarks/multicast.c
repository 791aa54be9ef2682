/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "bench.h"
int main(void)
{
	return 0;
}
