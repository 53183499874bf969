/*
 * Why tsinit writes to a pipe with splice(SPLICE_F_NONBLOCK) and not with
 * poll(POLLOUT, 0) + write: the pipe is shared with the child, which may write
 * to it at the same moment. poll can say "room" and the child take that room
 * before tsinit's write, which then blocks until the reader reads again (for
 * good, if the reader has just stalled). splice checks for room under the
 * pipe's lock and fails with EAGAIN instead.
 *
 *   cc -O2 -o /tmp/pipe-race bench/pipe-race.c
 *   /tmp/pipe-race poll     # or: splice
 *
 * A competitor writes 4 KiB blocks with blocking writes, a reader reads a
 * block every 300 us for about 1-2 s and then stops for good, and this
 * process tries a 100-byte line without blocking, over and over, for 4 s.
 * Exit 0: never stuck; killed by SIGALRM after 6 s (status 142 from a shell):
 * a write that poll had allowed blocked for good.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int use_splice = argc > 1 && strcmp(argv[1], "splice") == 0;
  int p[2];
  if (pipe(p) != 0) { perror("pipe"); return 1; }
  pid_t competitor = fork();
  if (competitor == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  /* dies with this process, even by SIGALRM */
    close(p[0]);
    char b[4096];
    memset(b, 'c', sizeof b);
    for (;;) (void)!write(p[1], b, sizeof b);
  }
  pid_t reader = fork();
  if (reader == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(p[1]);
    char b[4096];
    for (int i = 0; i < 3000; i++) {
      (void)!read(p[0], b, sizeof b);
      usleep(300);
    }
    pause();
  }
  close(p[0]);
  int relay[2];
  if (pipe2(relay, O_NONBLOCK) != 0) { perror("pipe2"); return 1; }
  char line[100];
  memset(line, 't', sizeof line);
  long written = 0, would_block = 0;
  alarm(6);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec >= 4) break;
    if (use_splice) {
      (void)!write(relay[1], line, sizeof line);
      if (splice(relay[0], NULL, p[1], NULL, sizeof line, SPLICE_F_NONBLOCK) < 0) {
        char sink[4096];
        while (read(relay[0], sink, sizeof sink) > 0) {}
        would_block++;
      } else {
        written++;
      }
    } else {
      struct pollfd pf = {p[1], POLLOUT, 0};
      if (poll(&pf, 1, 0) == 1) {
        (void)!write(p[1], line, sizeof line);
        written++;
      } else {
        would_block++;
      }
    }
  }
  printf("%s: never stuck; %ld lines written, %ld would have blocked\n", use_splice ? "splice" : "poll+write", written, would_block);
  kill(competitor, SIGKILL);
  kill(reader, SIGKILL);
  return 0;
}
