"""Run the local WaveSpeed emulator on its own (the server is `playground.emulator`).

python emulator.py --port 8765            # then WAVESPEED_BASE_URL=http://127.0.0.1:8765
python emulator.py --reuse-renders        # load tests: one render per distinct clip
"""

from playground.emulator import main

if __name__ == "__main__":
    main()
