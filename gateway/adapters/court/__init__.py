"""Court pre-litigation mediation (诉调对接): delegated mediation in; outcome out (agreement → judicial
confirmation 司法确认, failure → back to filing), and cases referred to court."""
