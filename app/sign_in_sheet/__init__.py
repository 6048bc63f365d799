"""The sign-in sheet (签到表) of a training session, as PDF or XLSX: who is on the class, one
column per class part. Reads sessions, enrollments, cadres and units; writes nothing. Top of the
import order (beside archive): it reads what the domains below it own."""
