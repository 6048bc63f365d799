"""Documents people print or open: an A4 table PDF with a CJK font (pdf), the spreadsheet
helpers of every XLSX file (spreadsheet), and the sign-in sheet (sign_in_sheet). Pure: they are
given plain data and return bytes; no database, no HTTP. Below the domains in the import order."""
