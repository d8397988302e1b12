/*
 * clock - seconds on the monotonic clock, for durations, deadlines and
 * timings everywhere (wall-clock jumps must not move them).
 */
#ifndef FCORE_CLOCK_H
#define FCORE_CLOCK_H

double clock_mono(void);

#endif
