/* The attacker's "agent": loading it runs its constructor, which leaves
 * a marker file. The tests assert that the marker never appears. */
#include <stdio.h>

#ifndef MARKER
#error "compile with -DMARKER='\"/path/to/marker\"'"
#endif

__attribute__((constructor)) static void ran(void) {
    FILE *f = fopen(MARKER, "w");
    if (f) {
        fputs("the attacker's library was loaded\n", f);
        fclose(f);
    }
}

int Agent_OnAttach(void *vm, char *options, void *reserved) {
    (void)vm; (void)options; (void)reserved;
    return 0;
}
