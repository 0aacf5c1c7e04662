"""Police 110 incident linkage (警情联动): dispute incidents in; sign-for and mediation result out."""
