"""Sign-in by class part: attendance marks, rotating QR codes, leave requests (rule 12)."""
