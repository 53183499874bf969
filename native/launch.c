/*
 * tsinit-launch: the step between bin/tsinit's sh lines and Node that keeps a
 * signal arriving while PID 1 becomes Node.
 *
 *   tsinit-launch ADDON NODE ARGS...
 *
 * execve resets every handled signal to its default disposition, and a PID 1
 * drops a signal at its default disposition; Node puts its own handlers in
 * place only several milliseconds into its start. A signal that is blocked,
 * though, stays pending across execve. So this program blocks every signal
 * first, then execs NODE with ARGS and with ADDON (tsinit's native core)
 * preloaded: the addon's constructor (native/tsinit.cc: RecordBeforeNode) puts its
 * recording handler on the signals the init forwards and restores the
 * caller's mask, so a signal that came in the meantime is recorded at once,
 * and the init forwards it once its child runs.
 *
 * The environment NODE gets:
 *   __TSINIT_BLOCKED       the caller's signal mask, in hexadecimal (bit N-1
 *                          for signal N): the constructor acts only when it
 *                          is set, restores this mask and unsets it
 *   LD_PRELOAD             ADDON, then ':' and the caller's LD_PRELOAD if set
 *   __TSINIT_LD_PRELOAD    the caller's LD_PRELOAD as 'x' and its value (so
 *                          set-but-empty stays distinct from unset), or
 *                          empty when the caller had none; the init gives
 *                          the child the caller's LD_PRELOAD back
 *
 * If NODE cannot be executed: the caller's mask back, one line on stderr,
 * status 127. Plain C over the C library: no libstdc++, nothing from Node.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIGNAL 64

static void fail(const char *what, int err) {
  fprintf(stderr, "tsinit: %s: %s\n", what, strerror(err));
}

/* The caller's mask back, one line naming the call that failed, status 127. */
static int give_up(const sigset_t *caller, const char *what, int err) {
  sigprocmask(SIG_SETMASK, caller, NULL);
  fail(what, err);
  return 127;
}

int main(int argc, char **argv) {
  sigset_t all, caller;
  /* First: from here on a signal waits, pending, for the recording handler. */
  if (sigfillset(&all) != 0 || sigprocmask(SIG_BLOCK, &all, &caller) != 0) {
    fail("sigprocmask", errno);
    return 127;
  }
  if (argc < 3) {
    sigprocmask(SIG_SETMASK, &caller, NULL);
    fprintf(stderr, "tsinit: usage: tsinit-launch ADDON NODE [ARGS...]\n");
    return 127;
  }
  const char *addon = argv[1];
  const char *node = argv[2];

  unsigned long long mask = 0;
  for (int sig = 1; sig <= MAX_SIGNAL; sig++) {
    int member = sigismember(&caller, sig);
    if (member == 1) mask |= 1ULL << (sig - 1);
  }
  char mask_text[2 + 16 + 1];
  snprintf(mask_text, sizeof mask_text, "%llx", mask);

  const char *prior = getenv("LD_PRELOAD");
  size_t addon_len = strlen(addon);
  size_t prior_len = prior == NULL ? 0 : strlen(prior);
  char *preload = malloc(addon_len + 1 + prior_len + 1);
  char *stash = malloc(1 + prior_len + 1);
  if (preload == NULL || stash == NULL) return give_up(&caller, "malloc", ENOMEM);
  memcpy(preload, addon, addon_len);
  preload[addon_len] = '\0';
  if (prior != NULL && prior_len > 0) {
    preload[addon_len] = ':';
    memcpy(preload + addon_len + 1, prior, prior_len + 1);
  }
  stash[0] = '\0';
  if (prior != NULL) {
    stash[0] = 'x';
    memcpy(stash + 1, prior, prior_len + 1);
  }

  if (setenv("__TSINIT_BLOCKED", mask_text, 1) != 0 || setenv("__TSINIT_LD_PRELOAD", stash, 1) != 0 ||
      setenv("LD_PRELOAD", preload, 1) != 0) {
    return give_up(&caller, "setenv", errno);
  }

  execv(node, argv + 2);
  int err = errno;
  sigprocmask(SIG_SETMASK, &caller, NULL);
  fprintf(stderr, "tsinit: cannot run %s: %s\n", node, strerror(err));
  return 127;
}
