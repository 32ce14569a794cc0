#include <stdio.h>
int main(void) { printf("weft-controller %s\n", WEFT_VERSION); return 0; }
