/* TEMPORARY placeholder: the sandbox work replaces this file. */
int main(void)
{
	return 127;
}
