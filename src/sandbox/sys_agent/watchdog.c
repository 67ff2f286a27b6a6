/* SPDX-License-Identifier: MIT */
/*
 * /usr/sbin/watchdog of the `system` sandbox guest: a stand-in for the hardware-watchdog
 * daemon IoT devices run. It only has to exist under that name, because IoT bots look for it
 * and kill it (so the device cannot reboot them away); the agent never depends on it.
 */
#include <unistd.h>

int main(void)
{
	for (;;)
		pause();
}
